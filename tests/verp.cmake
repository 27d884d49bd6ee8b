# `rebound verp encode|decode` from the shell (tests/cli-verp.sh).
add_test(NAME cli_verp
  COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli-verp.sh $<TARGET_FILE:rebound>)
set_tests_properties(cli_verp PROPERTIES LABELS cli TIMEOUT 60)
