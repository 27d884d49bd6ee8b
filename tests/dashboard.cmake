# Dashboards (dashboards/): the web console in Debian's chromium driven by
# playwright-core (which the test installs from npm into a cache folder,
# never into the tree), and the Grafana dashboard's JSON and PromQL names
# checked against the /metrics of a running `rebound serve`.  Both seed a
# database with the rebound CLI and run `rebound serve` on loopback ports
# picked by the kernel.  The console's screenshots (each page at 1280 and
# 390 px) are left in <build>/dashboard-screenshots/.
find_program(NODE_EXECUTABLE NAMES node nodejs)
if(NOT NODE_EXECUTABLE)
  # Registered all the same: ctest then says the command is missing
  # (scripts/deps.sh check installs nodejs and npm).
  set(NODE_EXECUTABLE node)
endif()

set(dashboard_env "REBOUND_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
if(REBOUND_SANITIZE)
  list(APPEND dashboard_env "REBOUND_SANITIZE=1")
endif()

add_test(NAME dashboard_grafana
  COMMAND ${NODE_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/dashboard/test_grafana.mjs
    $<TARGET_FILE:rebound>
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
add_test(NAME dashboard_browser
  COMMAND ${NODE_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/dashboard/test_browser.mjs
    $<TARGET_FILE:rebound> ${CMAKE_BINARY_DIR}/dashboard-screenshots
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(dashboard_grafana dashboard_browser PROPERTIES
  LABELS dashboard TIMEOUT 120 ENVIRONMENT "${dashboard_env}")
