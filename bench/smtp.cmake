# smtp_load: sends message files (the dev corpus) over SMTP with many
# sessions, for bench/smtp.sh (Postfix's smtp-source makes its own body).
add_executable(smtp_load ${CMAKE_SOURCE_DIR}/bench/smtp_load.c)
target_include_directories(smtp_load PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_options(smtp_load PRIVATE ${REBOUND_WARNINGS})
target_link_libraries(smtp_load PRIVATE rebound_core Threads::Threads)
