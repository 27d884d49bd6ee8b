# Golden corpus for classify: tests/corpus/classify/<name>.eml with the
# expected events in <name>.want.json (partial JSON), run by golden_runner.
# classify_reentrant runs the same corpus from two threads sharing the rules.
add_executable(golden_runner ${CMAKE_SOURCE_DIR}/tests/golden/run_golden.c)
target_include_directories(golden_runner PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_options(golden_runner PRIVATE ${REBOUND_WARNINGS})
target_link_libraries(golden_runner PRIVATE rebound_classify rebound_core
  PkgConfig::JANSSON Threads::Threads)

add_test(NAME golden_classify
  COMMAND golden_runner ${CMAKE_SOURCE_DIR}/tests/corpus/classify
    ${CMAKE_SOURCE_DIR}/data/rules)
add_test(NAME classify_reentrant
  COMMAND golden_runner --threads ${CMAKE_SOURCE_DIR}/tests/corpus/classify
    ${CMAKE_SOURCE_DIR}/data/rules)
set_tests_properties(golden_classify classify_reentrant PROPERTIES
  LABELS golden TIMEOUT 120)
