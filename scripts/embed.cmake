# Writes a file's bytes into a C source, so that the executable carries the
# file and needs nothing beside it at run time (the deployed zip holds only
# the app folder). Run by the build (CMakeLists.txt) whenever the file changes:
#   cmake -DIN=<file> -DOUT=<file.c> -DSYMBOL=<name> -P scripts/embed.cmake
# defines `const unsigned char <name>[]` (the bytes, no NUL added) and
# `const size_t <name>_len`.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR n "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 16 bytes a line, so the generated file stays readable in a debugger.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n    " bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "/* Generated from ${IN} by scripts/embed.cmake: do not edit. */\n"
  "#include <stddef.h>\n\n"
  "extern const unsigned char ${SYMBOL}[];\n"
  "extern const size_t ${SYMBOL}_len;\n\n"
  "const unsigned char ${SYMBOL}[] = {\n    ${bytes}\n};\n"
  "const size_t ${SYMBOL}_len = ${n};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
