/* The library's schema-line crc (src/tl/tl_crc.c), built into the generator without zlib. */
#define MTP_TL_CRC_STANDALONE 1
#include "../src/tl/tl_crc.c"
