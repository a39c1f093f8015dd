# Script mode (cmake -DSRC=... -DOUT=... -P BnxCommit.cmake), run at every build: writes OUT with
#   #define BNX_COMMIT "<short commit>[-dirty]"
# for the git checkout SRC ("-dirty": the compiled sources differ from that commit; "unknown"
# outside git). OUT is rewritten only when the value changes, so an unchanged build recompiles nothing.
set(compiled CMakeLists.txt cmake dist models data train)
execute_process(COMMAND git -C "${SRC}" rev-parse --short=7 HEAD
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit unknown)
else()
  execute_process(COMMAND git -C "${SRC}" status --porcelain --untracked-files=no -- ${compiled}
                  OUTPUT_VARIABLE changes ERROR_QUIET)
  if(NOT changes STREQUAL "")
    string(APPEND commit "-dirty")
  endif()
endif()
set(text "#define BNX_COMMIT \"${commit}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
