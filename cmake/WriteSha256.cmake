# cmake -DFILE=<path> -DOUT=<path> -P WriteSha256.cmake: writes "<sha256>  <file name>\n"
# (sha256sum format) to OUT; kmsd's integrity test reads it (src/daemon/integrity.h).
file(SHA256 "${FILE}" digest)
get_filename_component(name "${FILE}" NAME)
file(WRITE "${OUT}" "${digest}  ${name}\n")
