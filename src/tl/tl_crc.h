/*
 * libmtproto — normalisation of a TL schema line for its crc32 id (docs/PROTOCOL.md §1.5).
 * Internal: shared by the library (mtp_tl_line_crc in <mtproto/tl.h>) and codegen/.
 */
#ifndef MTP_TL_CRC_H
#define MTP_TL_CRC_H

#include <stddef.h>
#include <stdint.h>

/*
 * Write the normalised form of a schema line (with or without "#id", ";" and a trailing
 * "//" comment) into out (at most cap bytes, NUL-terminated when cap > 0). Returns the
 * length of the full normalised text (like snprintf), which may exceed cap - 1.
 */
size_t mtp_tl_line_normalize(const char *line, size_t len, char *out, size_t cap);

#endif
