# SMTP feedback server (ingest/smtp_*.c, ingest/spool.c) beyond its unit
# tests: smtp_testd runs the server with a deliver callback that
# classifies and writes JSON lines; smtp_probe is a raw SMTP client for
# what swaks cannot do (BDAT, pipelining, idle connections, garbage).
# The shell tests start smtp_testd on loopback port 0 in a temp dir.
foreach(tool smtp_testd smtp_probe)
  add_executable(${tool} ${CMAKE_SOURCE_DIR}/tests/smtp/${tool}.c)
  target_include_directories(${tool} PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_options(${tool} PRIVATE ${REBOUND_WARNINGS})
endforeach()
target_link_libraries(smtp_testd PRIVATE rebound_ingest rebound_classify
  rebound_core PkgConfig::JANSSON Threads::Threads)
target_link_libraries(smtp_probe PRIVATE rebound_core)

set(smtp_env "REBOUND_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
if(REBOUND_SANITIZE)
  list(APPEND smtp_env "REBOUND_SANITIZE=1")
endif()
file(GLOB SMTP_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/smtp/test_*.sh)
foreach(script ${SMTP_TESTS})
  get_filename_component(name ${script} NAME_WE)
  string(REGEX REPLACE "^test_" "smtp_" name ${name})
  add_test(NAME ${name}
    COMMAND sh ${script} $<TARGET_FILE:smtp_testd> $<TARGET_FILE:smtp_probe>
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS smtp TIMEOUT 120
    SKIP_RETURN_CODE 77 ENVIRONMENT "${smtp_env}")
endforeach()

# The real daemon, `rebound serve` (tests/smtp/serve_*.sh), with the
# store's dbtool to count what was stored.
file(GLOB SERVE_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/smtp/serve_*.sh)
foreach(script ${SERVE_TESTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME ${name}
    COMMAND sh ${script} $<TARGET_FILE:rebound> $<TARGET_FILE:smtp_probe>
      $<TARGET_FILE:store_dbtool>
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS smtp TIMEOUT 120
    SKIP_RETURN_CODE 77
    ENVIRONMENT "${smtp_env};REBOUND_DATA_DIR=${CMAKE_SOURCE_DIR}/data")
endforeach()
