# A user's --rules directory overrides the built-in verdict.
add_test(NAME user_rules COMMAND sh ${CMAKE_SOURCE_DIR}/tests/rules/test_user_rules.sh $<TARGET_FILE:rebound>)
set_tests_properties(user_rules PROPERTIES LABELS cli)
