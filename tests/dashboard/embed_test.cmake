# embed_test.cmake — web/embed.cmake turns a folder into C arrays, and stops on what must not become a URL.
#   cmake -DEMBED=web/embed.cmake -DWORK=dir -P embed_test.cmake
set(failures 0)

# s_embed(RESULT_VAR OUTPUT_VAR DIR): runs embed.cmake on DIR.
function(s_embed rc_var out_var dir)
  execute_process(COMMAND ${CMAKE_COMMAND} -DSRC=${dir} -DPREFIX=/dashboard/ -DOUT=${WORK}/out.inc -P ${EMBED}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${rc_var} ${rc} PARENT_SCOPE)
  string(REGEX REPLACE "[ \n]+" " " said "${out}${err}") # CMake wraps its error messages
  set(${out_var} "${said}" PARENT_SCOPE)
endfunction()

# s_expect_refused(NAME DIR WORDS): embed.cmake must fail on DIR and say WORDS.
function(s_expect_refused name dir words)
  s_embed(rc out ${dir})
  if(rc EQUAL 0 OR NOT out MATCHES "${words}")
    message(SEND_ERROR "FAIL ${name}: exit ${rc}, said: ${out}")
  else()
    message(STATUS "ok   ${name}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/good ${WORK}/sub/inner ${WORK}/badname ${WORK}/badext ${WORK}/empty)

# A good folder: each file's bytes, its length, a NUL after it, its type.
file(WRITE ${WORK}/good/index.html "<p>한</p>")
file(WRITE ${WORK}/good/a.js "x")
s_embed(rc out ${WORK}/good)
file(READ ${WORK}/out.inc inc)
if(NOT rc EQUAL 0
   OR NOT inc MATCHES "0x3c,0x70,0x3e,0xed,0x95,0x9c,0x3c,0x2f,0x70,0x3e,0x00}"
   OR NOT inc MATCHES "\"/dashboard/index.html\", {\\(const char \\*\\)s_file1, 10u, \"text/html; charset=utf-8\"}"
   OR NOT inc MATCHES "\"/dashboard/a.js\", {\\(const char \\*\\)s_file0, 1u, \"text/javascript; charset=utf-8\"}")
  message(SEND_ERROR "FAIL a folder's files become arrays with paths, lengths and types: exit ${rc}, ${out}\n${inc}")
else()
  message(STATUS "ok   a folder's files become arrays with paths, lengths and types")
endif()

file(WRITE ${WORK}/badname/.hidden "x")
file(WRITE ${WORK}/badext/notes.md "x")
s_expect_refused("a sub-folder is refused" ${WORK}/sub "is a folder")
s_expect_refused("a name that is not plain is refused" ${WORK}/badname "not a plain file name")
s_expect_refused("a file of unknown type is refused" ${WORK}/badext "no content type known for .md")
s_expect_refused("an empty folder is refused" ${WORK}/empty "holds no files")
