# Copies one .proto file for protoc's C++ generator, which aborts on `import weak`:
#   cmake -DIN=<source .proto> -DOUT=<copy> -P copy_proto.cmake
# A weak import of gogo.proto that the file never uses is dropped instead, so protoc
# does not warn "Import gogoproto/gogo.proto is unused" on every build.
file(READ "${IN}" text)
if(NOT text MATCHES "\\(gogoproto\\.")
  string(REGEX REPLACE "import weak \"gogoproto/gogo.proto\";\n" "" text "${text}")
endif()
string(REGEX REPLACE "(^|\n)import weak " "\\1import " text "${text}")
# Rewrite only on change: an unchanged copy keeps its time stamp, and with it the
# generated code and everything compiled from it.
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL text)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${text}")
