# bench_http_gen: the database of bench/http.sh (1,000,000 suppressed
# addresses, 10,000 identities, 1,000,000 events), written with SQL in
# big transactions over the schema store_open() makes.
add_executable(bench_http_gen ${CMAKE_SOURCE_DIR}/bench/http_gen.c)
target_include_directories(bench_http_gen PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_options(bench_http_gen PRIVATE ${REBOUND_WARNINGS})
target_link_libraries(bench_http_gen PRIVATE rebound_store rebound_classify
  rebound_core PkgConfig::SQLITE)
