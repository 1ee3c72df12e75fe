/*
 * libmtproto — a small QR code encoder (ISO/IEC 18004): byte mode, error correction L or M,
 * versions 1..10 (up to 271 bytes at L, 213 at M: a tg://login?token=… URL needs version
 * 4-5). For drawing the QR login URL on a terminal.
 */
#ifndef MTP_QR_H
#define MTP_QR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MTP_QR_MAX_VERSION 10
#define MTP_QR_MAX_SIZE (17 + 4 * MTP_QR_MAX_VERSION)

typedef enum mtp_qr_ecl { MTP_QR_ECL_L = 0, MTP_QR_ECL_M = 1 } mtp_qr_ecl_t;

typedef struct mtp_qr {
    int version;                /* 1..MTP_QR_MAX_VERSION */
    int size;                   /* 17 + 4 * version modules a side */
    int mask;                   /* 0..7 */
    mtp_qr_ecl_t ecl;
    uint8_t m[MTP_QR_MAX_SIZE][MTP_QR_MAX_SIZE];   /* [row][column]: 1 dark */
} mtp_qr_t;

/* Encode len bytes in the smallest version that holds them at ecl; mask -1 chooses the
 * mask of least penalty (else 0..7). 0, MTP_EINVAL, MTP_ERANGE (too long). */
int mtp_qr_encode(const uint8_t *data, size_t len, mtp_qr_ecl_t ecl, int mask, mtp_qr_t *out);

/* The code as text for a terminal: two rows of modules per line with the half-block
 * characters (UTF-8), a quiet zone of 2 modules; the light modules are the drawn ones (for
 * light-on-dark terminals). malloc'd; NULL on ENOMEM. */
char *mtp_qr_to_text(const mtp_qr_t *q);

#ifdef __cplusplus
}
#endif
#endif
