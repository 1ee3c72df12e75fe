/* gzip_packed support: inflate (gzip or zlib stream, capped) and deflate (gzip). */
#include <mtproto/tl.h>

#include <limits.h>
#include <zlib.h>

int mtp_gzip_inflate(const uint8_t *in, size_t n, size_t cap, mtp_buf_t *out)
{
    if ((!in && n) || !out || n > UINT_MAX)
        return MTP_EINVAL;
    if (n < 2)
        return MTP_EGZIP;
    z_stream z = {0};
    /* 15 + 32: detect gzip or zlib headers automatically */
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return MTP_ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    size_t start = out->len;
    int rc = MTP_OK, zr;
    do {
        size_t room = out->cap - out->len;
        if (room < 4096 || room > UINT_MAX) {
            size_t want = n * 4 < 65536 ? 65536 : n * 4;
            if (want > cap - (out->len - start) + 1)
                want = cap - (out->len - start) + 1;   /* one byte over the cap detects overflow */
            if (want > UINT_MAX)
                want = UINT_MAX;
            if (want < 1)
                want = 1;
            if (mtp_buf_reserve(out, want)) {
                rc = MTP_ENOMEM;
                break;
            }
            room = out->cap - out->len;
            if (room > UINT_MAX)
                room = UINT_MAX;
        }
        z.next_out = out->data + out->len;
        z.avail_out = (uInt)room;
        zr = inflate(&z, Z_NO_FLUSH);
        out->len += room - z.avail_out;
        if (out->len - start > cap) {
            rc = MTP_EGZIP;   /* decompression bomb: over the cap */
            break;
        }
        if (zr == Z_STREAM_END)
            break;
        if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_in)) {
            rc = MTP_EGZIP;
            break;
        }
        if (zr == Z_BUF_ERROR && !z.avail_in) {
            rc = MTP_EGZIP;   /* truncated stream */
            break;
        }
    } while (1);
    if (!rc && z.avail_in)
        rc = MTP_EGZIP;   /* trailing garbage after the stream */
    inflateEnd(&z);
    if (rc)
        out->len = start;
    return rc;
}

int mtp_gzip_deflate(const uint8_t *in, size_t n, int level, mtp_buf_t *out)
{
    if ((!in && n) || !out || n > UINT_MAX)
        return MTP_EINVAL;
    z_stream z = {0};
    if (deflateInit2(&z, level > 0 && level <= 9 ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                     15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return MTP_ENOMEM;
    size_t bound = deflateBound(&z, (uLong)n);
    size_t start = out->len;
    if (bound > UINT_MAX || mtp_buf_reserve(out, bound)) {
        deflateEnd(&z);
        return MTP_ENOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out->data + out->len;
    z.avail_out = (uInt)bound;
    int zr = deflate(&z, Z_FINISH);
    if (zr != Z_STREAM_END) {
        deflateEnd(&z);
        out->len = start;
        return MTP_EGZIP;
    }
    out->len += bound - z.avail_out;
    deflateEnd(&z);
    return 0;
}
