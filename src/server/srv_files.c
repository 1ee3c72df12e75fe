/*
 * libmtproto harness — files: upload.saveFilePart / saveBigFilePart, the check of a
 * finished upload (messages.sendMedia), upload.getFile.
 */
#include "srv_api_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* An uploaded file: the upload if complete and consistent, else NULL (answered). */
srv_upload_t *check_upload(srv_req_t *r, const mtp_tl_object_t *f, uint32_t *np,
                           mtp_bytes_t *name)
{
    int64_t uid = me_id(r);
    int64_t id;
    int32_t parts;
    bool big = f && f->tl == &mtp_tlc_inputFileBig;
    const mtp_inputFile_t *small = NULL;
    if (f && f->tl == &mtp_tlc_inputFile) {
        small = (const void *)f;
        id = small->id;
        parts = small->parts;
        *name = small->name;
    } else if (big) {
        const mtp_inputFileBig_t *b = (const void *)f;
        id = b->id;
        parts = b->parts;
        *name = b->name;
    } else {
        reply_err(r, 400, "MEDIA_INVALID");
        return NULL;
    }
    srv_upload_t *up = srv_upload_get(r->srv, uid, id, false);
    if (parts <= 0 || parts > MAX_PARTS) {
        reply_err(r, 400, "FILE_PARTS_INVALID");
        return NULL;
    }
    if (!up) {
        reply_err(r, 400, "FILE_PART_0_MISSING");
        return NULL;
    }
    if (up->big != big || (big && up->total != parts)) {
        reply_err(r, 400, "FILE_PARTS_INVALID");
        return NULL;
    }
    for (int32_t i = 0; i < parts; i++)
        if ((uint32_t)i >= up->cap || !up->parts[i]) {
            reply_errf(r, 400, "FILE_PART_%lld_MISSING", i);
            return NULL;
        }
    uint32_t ps = up->part_len[0];
    if (parts > 1 && (ps % 1024 || MAX_PART % ps)) {
        reply_err(r, 400, "FILE_PART_SIZE_INVALID");
        return NULL;
    }
    for (int32_t i = 1; i < parts; i++)
        if ((i < parts - 1 && up->part_len[i] != ps) || up->part_len[i] > ps) {
            reply_err(r, 400, "FILE_PART_SIZE_CHANGED");
            return NULL;
        }
    if (small && small->md5_checksum.len) {
        mtp_hash_t *h = NULL;
        uint8_t md5[16];
        char hex[33];
        if (mtp_hash_new(MTP_HASH_MD5, &h)) {
            reply_err(r, 500, "INTERNAL");
            return NULL;
        }
        for (int32_t i = 0; i < parts; i++)
            mtp_hash_update(h, up->parts[i], up->part_len[i]);
        mtp_hash_final(h, md5);
        mtp_hash_free(h);
        for (int i = 0; i < 16; i++)
            snprintf(hex + 2 * i, 3, "%02x", md5[i]);
        bool eq = small->md5_checksum.len == 32;
        for (size_t i = 0; eq && i < 32; i++) {
            uint8_t c = small->md5_checksum.ptr[i];
            if (c >= 'A' && c <= 'F')
                c = (uint8_t)(c + 32);
            eq = c == (uint8_t)hex[i];
        }
        if (!eq) {
            reply_err(r, 400, "MD5_CHECKSUM_INVALID");
            return NULL;
        }
    }
    *np = (uint32_t)parts;
    return up;
}

/* ------------------------------------------------------------------------------------ */
/* upload.*                                                                             */
/* ------------------------------------------------------------------------------------ */

static void store_part(srv_req_t *r, int64_t file_id, int32_t part, int32_t total,
                       mtp_bytes_t bytes, bool big)
{
    srv_t *srv = r->srv;
    if (part < 0 || part >= MAX_PARTS || (big && part >= total)) {
        reply_err(r, 400, "FILE_PART_INVALID");
        return;
    }
    if (big && (total <= 0 || total > MAX_PARTS)) {
        reply_err(r, 400, "FILE_PARTS_INVALID");
        return;
    }
    if (!bytes.len) {
        reply_err(r, 400, "FILE_PART_EMPTY");
        return;
    }
    if (bytes.len > MAX_PART) {
        reply_err(r, 400, "FILE_PART_TOO_BIG");
        return;
    }
    bool last = big && part == total - 1;
    if (big && !last && (bytes.len % 1024 || MAX_PART % bytes.len)) {
        reply_err(r, 400, "FILE_PART_SIZE_INVALID");
        return;
    }
    srv_upload_t *up = srv_upload_get(srv, me_id(r), file_id, true);
    if (!up) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    bool fresh = up->cap == 0;
    if (fresh) {
        up->big = big;
        up->total = big ? total : 0;
    } else if (up->big != big || (big && up->total != total)) {
        reply_err(r, 400, "FILE_PARTS_INVALID");
        return;
    }
    if (big && !last) {
        for (uint32_t i = 0; i < up->cap; i++)
            if (up->parts[i] && (int32_t)i != total - 1 && up->part_len[i] != bytes.len) {
                reply_err(r, 400, "FILE_PART_SIZE_CHANGED");
                return;
            }
    }
    if (srv->upload_bytes + bytes.len > srv->cfg.limits.upload_bytes) {
        SRV_STAT(srv, limit_uploads, 1);   /* budget: upload parts held in memory */
        reply_err(r, 420, "FLOOD_WAIT_5");
        return;
    }
    if ((uint32_t)part >= up->cap) {
        uint32_t cap = up->cap ? up->cap : 4;
        while (cap <= (uint32_t)part)
            cap *= 2;
        if (cap > MAX_PARTS)
            cap = MAX_PARTS;
        uint8_t **p = realloc(up->parts, cap * sizeof *p);
        if (p)
            up->parts = p;
        uint32_t *l = p ? realloc(up->part_len, cap * sizeof *l) : NULL;
        if (!p || !l) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        up->part_len = l;
        for (uint32_t i = up->cap; i < cap; i++) {
            up->parts[i] = NULL;
            up->part_len[i] = 0;
        }
        up->cap = cap;
    }
    uint8_t *copy = malloc(bytes.len);
    if (!copy) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    memcpy(copy, bytes.ptr, bytes.len);
    if (up->parts[part]) {
        up->bytes -= up->part_len[part];
        srv->upload_bytes -= up->part_len[part];
        free(up->parts[part]);
    }
    up->parts[part] = copy;
    up->part_len[part] = (uint32_t)bytes.len;
    up->bytes += bytes.len;
    srv->upload_bytes += bytes.len;
    up->touched = r->now;
    reply_bool(r, true);
}

static void h_saveFilePart(srv_req_t *r, const void *qv)
{
    const mtp_upload_saveFilePart_t *q = qv;
    store_part(r, q->file_id, q->file_part, 0, q->bytes, false);
}

static void h_saveBigFilePart(srv_req_t *r, const void *qv)
{
    const mtp_upload_saveBigFilePart_t *q = qv;
    store_part(r, q->file_id, q->file_part, q->file_total_parts, q->bytes, true);
}

static void h_getFile(srv_req_t *r, const void *qv)
{
    const mtp_upload_getFile_t *q = qv;
    int64_t off = q->offset;
    int32_t lim = q->limit;
    if (q->precise) {
        if (lim <= 0 || lim % 1024 || lim > MIB) {
            reply_err(r, 400, "LIMIT_INVALID");
            return;
        }
        if (off < 0 || off % 1024) {
            reply_err(r, 400, "OFFSET_INVALID");
            return;
        }
    } else {
        if (lim <= 0 || lim % 4096 || MIB % lim) {
            reply_err(r, 400, "LIMIT_INVALID");
            return;
        }
        if (off < 0 || off % 4096) {
            reply_err(r, 400, "OFFSET_INVALID");
            return;
        }
    }
    if (off % MIB + lim > MIB) {   /* must stay inside one 1 MiB chunk */
        reply_err(r, 400, "LIMIT_INVALID");
        return;
    }
    const mtp_tl_object_t *loc = q->location;
    if (!loc || loc->tl != &mtp_tlc_inputDocumentFileLocation) {
        reply_err(r, 400, "LOCATION_INVALID");
        return;
    }
    const mtp_inputDocumentFileLocation_t *l = (const void *)loc;
    srv_doc_t *d = srv_doc_find(r->srv, l->id);
    if (!d || d->access_hash != l->access_hash) {
        reply_err(r, 400, "FILE_ID_INVALID");
        return;
    }
    if (l->thumb_size.len) {
        reply_err(r, 400, "LOCATION_INVALID");
        return;
    }
    if (d->dc != r->dc) {
        reply_errf(r, 303, "FILE_MIGRATE_%lld", d->dc);
        return;
    }
    if (l->file_reference.len != sizeof d->file_ref ||
        memcmp(l->file_reference.ptr, d->file_ref, sizeof d->file_ref)) {
        reply_err(r, 400, "FILE_REFERENCE_EXPIRED");
        return;
    }
    size_t n = 0;
    if (off < d->size)
        n = (size_t)(d->size - off < lim ? d->size - off : lim);
    mtp_buf_t *pb = &r->srv->part_buf;   /* n <= 1 MiB: kept for the next part */
    mtp_buf_clear(pb);
    uint8_t *data = mtp_buf_reserve(pb, n ? n : 1) ? NULL : pb->data;
    if (!data || srv_doc_read(d, off, n, data)) {
        reply_err(r, 500, "FILE_READ_FAILED");
        return;
    }
    mtp_upload_file_t *f = MTP_NEW(r->arena, upload_file);
    mtp_storage_fileUnknown_t *t = MTP_NEW(r->arena, storage_fileUnknown);
    if (!f || !t) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    f->type = &t->_;
    f->mtime = d->date;
    f->bytes = (mtp_bytes_t){ data, n };
    r->no_gzip = true;   /* as Telegram: file parts are never gzip_packed */
    reply_obj(r, &f->_);
}

/* ------------------------------------------------------------------------------------ */
/* methods of this area (see srv_api_int.h: one row per method)                         */
/* ------------------------------------------------------------------------------------ */

const handler_t srv_methods_files[] = {
    { &mtp_tlc_upload_saveFilePart, h_saveFilePart, A_AUTH },
    { &mtp_tlc_upload_saveBigFilePart, h_saveBigFilePart, A_AUTH },
    { &mtp_tlc_upload_getFile, h_getFile, A_AUTH },
    { NULL, NULL, 0 }
};
