# bench_classify: single-thread classifier throughput (see bench/README.md).
add_executable(bench_classify ${CMAKE_SOURCE_DIR}/bench/classify.c)
target_include_directories(bench_classify PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_options(bench_classify PRIVATE ${REBOUND_WARNINGS})
target_compile_definitions(bench_classify PRIVATE
  REBOUND_BENCH_RULES_DIR="${CMAKE_SOURCE_DIR}/data/rules")
target_link_libraries(bench_classify PRIVATE rebound_classify rebound_core)
