# Store tests beyond the unit tests (tests/unit/store/, registered by
# tests/CMakeLists.txt): the rebound binary on Maildirs (idempotency,
# suppression expiry with REBOUND_NOW, the other commands), kill -9
# during an ingest, a full disk.  dbtool checks and dumps a database.
add_executable(store_dbtool ${CMAKE_SOURCE_DIR}/tests/store/dbtool.c)
target_include_directories(store_dbtool PRIVATE ${CMAKE_SOURCE_DIR}
  ${CMAKE_SOURCE_DIR}/tests ${CMAKE_SOURCE_DIR}/tests/unit/store)
target_link_libraries(store_dbtool PRIVATE rebound_store rebound_classify
  rebound_core PkgConfig::SQLITE)

set(store_env "REBOUND_DATA_DIR=${CMAKE_SOURCE_DIR}/data")
if(REBOUND_SANITIZE)
  list(APPEND store_env "REBOUND_SANITIZE=1")
endif()
foreach(t cli kill diskfull)
  add_test(NAME store_${t}
    COMMAND sh ${CMAKE_SOURCE_DIR}/tests/store/test_${t}.sh
      $<TARGET_FILE:rebound> $<TARGET_FILE:store_dbtool>
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(store_${t} PROPERTIES LABELS store TIMEOUT 120
    ENVIRONMENT "${store_env}")
endforeach()
