# HTTP API (http/) beyond its unit tests (tests/unit/http/): http_testd
# runs the server over a temporary database on a loopback port picked by
# the kernel, and test_*.py speak HTTP to it with their own client
# (Python's http.client and raw sockets: no libcurl, nothing to install
# beyond python3, which make check already needs).
if(TARGET rebound_http)
  add_executable(http_testd ${CMAKE_SOURCE_DIR}/tests/http/http_testd.c)
  target_include_directories(http_testd PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_options(http_testd PRIVATE ${REBOUND_WARNINGS})
  target_link_libraries(http_testd PRIVATE rebound_http rebound_store
    rebound_classify rebound_core Threads::Threads)

  set(http_env "REBOUND_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  if(REBOUND_SANITIZE)
    list(APPEND http_env "REBOUND_SANITIZE=1")
  endif()
  file(GLOB HTTP_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/http/test_*.py)
  foreach(script ${HTTP_TESTS})
    get_filename_component(name ${script} NAME_WE)
    string(REGEX REPLACE "^test_" "http_" name ${name})
    add_test(NAME ${name}
      COMMAND python3 ${script} $<TARGET_FILE:http_testd> $<TARGET_FILE:rebound>
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(${name} PROPERTIES LABELS http TIMEOUT 180
      ENVIRONMENT "${http_env}")
  endforeach()

  # The fuzz targets of the HTTP request parsing (tests/fuzz/fuzz_http_*.c,
  # registered by tests/fuzz.cmake) reach http/ internals.
  file(GLOB HTTP_FUZZ CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_http_*.c)
  foreach(src ${HTTP_FUZZ})
    get_filename_component(target ${src} NAME_WE)
    target_link_libraries(${target} PRIVATE rebound_http rebound_store)
  endforeach()
  if(REBOUND_FUZZ)
    target_compile_options(rebound_http PRIVATE
      -fsanitize=fuzzer-no-link,${FUZZ_SANITIZERS} ${FUZZ_COMMON_FLAGS})
    target_link_options(rebound_http INTERFACE -fsanitize=${FUZZ_SANITIZERS})
  endif()
endif()
