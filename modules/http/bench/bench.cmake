# bench/run.sh builds these (Release) and drives them with wrk.
add_executable(http_floor bench/floor.c)
add_executable(http_load bench/load.c)
target_link_libraries(http_load PRIVATE corio_http_static)
if(TARGET corio_http_oracles)
  add_executable(http_parser_bench bench/parser_bench.c)
  target_link_libraries(http_parser_bench PRIVATE corio_http_static corio_http_oracles)
endif()
