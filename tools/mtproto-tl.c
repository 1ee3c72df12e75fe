/*
 * mtproto-tl — decode, encode and describe TL objects from the command line.
 *
 *   mtproto-tl decode [--json] [--hex] [--lines] [--raw-gzip] [--layer N] [FILE]
 *   mtproto-tl encode [--hex] [--lines] [--layer N] [FILE]
 *   mtproto-tl info [--json] [--layer N] NAME|#ID
 *
 * Exit status: 0 success, 1 a failure (bad input, unknown name), 2 a usage error.
 */
#include <mtproto/tl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"   /* hex (static inline) */

#define EXIT_USAGE 2

static const char *prog = "mtproto-tl";

static const char usage_text[] =
    "usage: mtproto-tl decode [--json] [--hex] [--lines] [--raw-gzip] [--layer N] [FILE]\n"
    "       mtproto-tl encode [--hex] [--lines] [--layer N] [FILE]\n"
    "       mtproto-tl info [--json] [--layer N] NAME|#ID|TYPE\n"
    "       mtproto-tl --help\n"
    "\n"
    "decode   Read one boxed TL object or method call (binary, or hex text with --hex;\n"
    "         whitespace in hex is ignored) and print it as indented TL text, or as one\n"
    "         line of canonical JSON with --json. The whole input must be consumed.\n"
    "         gzip_packed is shown unpacked unless --raw-gzip is given.\n"
    "encode   Read canonical JSON ({\"_\":\"name\",field:value,...}) and write the boxed\n"
    "         TL encoding: raw bytes, or lowercase hex and a newline with --hex.\n"
    "info     Describe a constructor or method given by name (user, help.getConfig) or id\n"
    "         (#1cb5c415, 0x1cb5c415 or decimal): schema line, id, kind, type or result\n"
    "         type, and each field with its type and flag bit. A type name (User) lists\n"
    "         its constructors. --json prints the same as one JSON object.\n"
    "\n"
    "--lines  One object per input line: decode reads hex lines (implies --hex) and writes\n"
    "         one JSON (or text) per line; encode reads JSON lines and writes hex lines.\n"
    "         A line that fails gives {\"error\":\"<why>\"} on its output line and the tool\n"
    "         goes on; the exit status is 1 if any line failed.\n"
    "--layer N  API layer (default 228; also 227, 198; 0 = the MTProto service schema\n"
    "         alone). Every API layer also knows the service schema.\n"
    "FILE     Input file; standard input when absent or \"-\".\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    exit(EXIT_USAGE);
}

typedef struct opts {
    const char *cmd;
    bool json, hex, lines, raw_gzip;
    int layer;
    const char *arg;      /* FILE (decode/encode) or NAME (info) */
} opts_t;

static bool parse_int(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

static void parse_args(int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->layer = MTP_TL_DEFAULT_LAYER;
    if (argc < 2)
        usage_error("%s", "missing command (decode, encode or info)");
    int i = 1;
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage_text, stdout);
        exit(0);
    }
    o->cmd = argv[i++];
    if (strcmp(o->cmd, "decode") && strcmp(o->cmd, "encode") && strcmp(o->cmd, "info"))
        usage_error("unknown command '%s'", o->cmd);
    bool only_args = false;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!only_args && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--")) {
                only_args = true;
            } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                fputs(usage_text, stdout);
                exit(0);
            } else if (!strcmp(a, "--json") && strcmp(o->cmd, "encode")) {
                o->json = true;
            } else if (!strcmp(a, "--hex") && strcmp(o->cmd, "info")) {
                o->hex = true;
            } else if (!strcmp(a, "--lines") && strcmp(o->cmd, "info")) {
                o->lines = true;
            } else if (!strcmp(a, "--raw-gzip") && !strcmp(o->cmd, "decode")) {
                o->raw_gzip = true;
            } else if (!strcmp(a, "--layer") || !strncmp(a, "--layer=", 8)) {
                const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
                long n;
                if (!v)
                    usage_error("%s", "--layer needs a number");
                if (!parse_int(v, &n) || n < 0 || n > 100000)
                    usage_error("bad layer '%s'", v);
                o->layer = (int)n;
            } else {
                usage_error("unknown option '%s'", a);
            }
            continue;
        }
        if (o->arg)
            usage_error("unexpected argument '%s'", a);
        o->arg = a;
    }
    if (!strcmp(o->cmd, "info") && !o->arg)
        usage_error("%s", "info needs a NAME or #ID");
}

/* ---- I/O helpers ---- */

static FILE *open_input(const char *path)
{
    if (!path || !strcmp(path, "-"))
        return stdin;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open '%s': %s\n", prog, path, strerror(errno));
        exit(1);
    }
    return f;
}

static int read_all(FILE *f, mtp_buf_t *b)
{
    for (;;) {
        if (mtp_buf_reserve(b, 65536))
            return b->err;
        size_t n = fread(b->data + b->len, 1, b->cap - b->len, f);
        b->len += n;
        if (n == 0)
            break;
    }
    return ferror(f) ? MTP_EIO : 0;
}

/* Hex text (whitespace ignored) -> bytes appended to out. */
static int unhex(const char *s, size_t n, mtp_buf_t *out, char *err, size_t errlen)
{
    if (mtp_buf_reserve(out, n / 2 + 1))
        return out->err;
    uint8_t *o = out->data + out->len;
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int v = mtp_hexval(c);
        if (v < 0) {
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
                continue;
            snprintf(err, errlen, "invalid hex character at position %zu", i);
            return MTP_EINVAL;
        }
        if (hi < 0) {
            hi = v;
        } else {
            *o++ = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0) {
        snprintf(err, errlen, "odd number of hex digits");
        return MTP_EINVAL;
    }
    out->len = (size_t)(o - out->data);
    return 0;
}

static void put_hex_line(mtp_buf_t *out, const uint8_t *p, size_t n)
{
    if (mtp_buf_reserve(out, 2 * n + 1))
        return;
    char *o = (char *)out->data + out->len;
    mtp_hex_encode(p, n, o);
    o[2 * n] = '\n';
    out->len += 2 * n + 1;
}

static void json_str(mtp_buf_t *b, const char *s);

/* {"error":"<msg>"} with the message JSON-escaped (as canonical JSON strings are). */
static void put_error_line(mtp_buf_t *out, const char *msg)
{
    mtp_buf_append(out, "{\"error\":", 9);
    json_str(out, msg);
    mtp_buf_append(out, "}\n", 2);
}

static int flush_out(mtp_buf_t *out)
{
    if (out->err) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    if (out->len && fwrite(out->data, 1, out->len, stdout) != out->len) {
        fprintf(stderr, "%s: write error: %s\n", prog, strerror(errno));
        return 1;
    }
    out->len = 0;
    return 0;
}

/* ---- decode ---- */

/* Decode bin into text/JSON appended to out; on failure a message in err. */
static int decode_one(const opts_t *o, const mtp_tl_layer_t *layer, mtp_arena_t *arena,
                      const uint8_t *bin, size_t n, mtp_buf_t *out, char *err, size_t errlen)
{
    mtp_tl_reader_t r;
    mtp_tl_reader_init(&r, layer, bin, n, arena);
    r.borrow = true;
    r.unpack_gzip = !o->raw_gzip;
    mtp_tl_object_t *obj;
    int rc = mtp_tl_decode_reader(&r, &obj);
    if (rc) {
        if (r.err)
            mtp_tl_reader_strerror(&r, err, errlen);
        else
            snprintf(err, errlen, "%s", mtp_strerror(rc));
        return rc;
    }
    size_t len0 = out->len;
    rc = o->json ? mtp_tl_to_json(obj, out) : mtp_tl_print(obj, out);
    if (rc) {
        out->len = len0;
        snprintf(err, errlen, "cannot format the object: %s", mtp_strerror(rc));
        return rc;
    }
    if (o->json)
        mtp_buf_putc(out, '\n');
    return 0;
}

static int cmd_decode(const opts_t *o, const mtp_tl_layer_t *layer)
{
    FILE *in = open_input(o->arg);
    mtp_arena_t *arena = mtp_arena_new(0);
    mtp_buf_t out, bin;
    mtp_buf_init(&out);
    mtp_buf_init(&bin);
    char err[512];
    int status = 0;
    if (!arena) {
        fprintf(stderr, "%s: out of memory\n", prog);
        status = 1;
        goto done;
    }
    if (o->lines) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, in)) >= 0) {
            mtp_arena_reset(arena);
            mtp_buf_clear(&bin);
            err[0] = 0;
            int rc = unhex(line, (size_t)len, &bin, err, sizeof err);
            if (!rc && bin.len == 0) {
                snprintf(err, sizeof err, "empty line");
                rc = MTP_EINVAL;
            }
            if (!rc)
                rc = decode_one(o, layer, arena, bin.data, bin.len, &out, err, sizeof err);
            if (rc) {
                status = 1;
                put_error_line(&out, err[0] ? err : mtp_strerror(rc));
            }
            if (out.len >= 1u << 16 && flush_out(&out)) {
                status = 1;
                break;
            }
        }
        free(line);
        if (ferror(in)) {
            fprintf(stderr, "%s: read error: %s\n", prog, strerror(errno));
            status = 1;
        }
        if (flush_out(&out))
            status = 1;
        goto done;
    }
    mtp_buf_t raw;
    mtp_buf_init(&raw);
    if (read_all(in, &raw)) {
        fprintf(stderr, "%s: read error: %s\n", prog, strerror(errno));
        mtp_buf_free(&raw);
        status = 1;
        goto done;
    }
    const uint8_t *data = raw.data;
    size_t n = raw.len;
    int rc = 0;
    if (o->hex) {
        rc = unhex((const char *)raw.data, raw.len, &bin, err, sizeof err);
        if (rc) {
            fprintf(stderr, "%s: decode: %s\n", prog, err);
            mtp_buf_free(&raw);
            status = 1;
            goto done;
        }
        data = bin.data;
        n = bin.len;
    }
    if (n == 0) {
        fprintf(stderr, "%s: decode: empty input\n", prog);
        status = 1;
    } else if ((rc = decode_one(o, layer, arena, data, n, &out, err, sizeof err))) {
        fprintf(stderr, "%s: decode: %s\n", prog, err);
        status = 1;
    } else if (flush_out(&out)) {
        status = 1;
    }
    mtp_buf_free(&raw);
done:
    if (in != stdin)
        fclose(in);
    mtp_buf_free(&out);
    mtp_buf_free(&bin);
    mtp_arena_free(arena);
    if (fflush(stdout) != 0)
        status = 1;
    return status;
}

/* ---- encode ---- */

static int cmd_encode(const opts_t *o, const mtp_tl_layer_t *layer)
{
    FILE *in = open_input(o->arg);
    mtp_arena_t *arena = mtp_arena_new(0);
    mtp_buf_t out, bin;
    mtp_buf_init(&out);
    mtp_buf_init(&bin);
    char err[512];
    int status = 0;
    if (!arena) {
        fprintf(stderr, "%s: out of memory\n", prog);
        status = 1;
        goto done;
    }
    if (o->lines) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, in)) >= 0) {
            mtp_arena_reset(arena);
            mtp_buf_clear(&bin);
            mtp_tl_object_t *obj;
            int rc = mtp_tl_from_json(layer, line, (size_t)len, arena, &obj, err, sizeof err);
            if (!rc && (rc = mtp_tl_encode(obj, &bin)))
                snprintf(err, sizeof err, "cannot encode: %s", mtp_strerror(rc));
            if (rc) {
                status = 1;
                put_error_line(&out, err[0] ? err : mtp_strerror(rc));
            } else {
                put_hex_line(&out, bin.data, bin.len);
            }
            if (out.len >= 1u << 16 && flush_out(&out)) {
                status = 1;
                break;
            }
        }
        free(line);
        if (ferror(in)) {
            fprintf(stderr, "%s: read error: %s\n", prog, strerror(errno));
            status = 1;
        }
        if (flush_out(&out))
            status = 1;
        goto done;
    }
    mtp_buf_t raw;
    mtp_buf_init(&raw);
    if (read_all(in, &raw)) {
        fprintf(stderr, "%s: read error: %s\n", prog, strerror(errno));
        mtp_buf_free(&raw);
        status = 1;
        goto done;
    }
    mtp_tl_object_t *obj;
    int rc = mtp_tl_from_json(layer, (const char *)raw.data, raw.len, arena, &obj, err,
                              sizeof err);
    if (!rc && (rc = mtp_tl_encode(obj, &bin)))
        snprintf(err, sizeof err, "cannot encode: %s", mtp_strerror(rc));
    if (rc) {
        fprintf(stderr, "%s: encode: %s\n", prog, err[0] ? err : mtp_strerror(rc));
        status = 1;
    } else {
        if (o->hex)
            put_hex_line(&out, bin.data, bin.len);
        else
            mtp_buf_append(&out, bin.data, bin.len);
        if (flush_out(&out))
            status = 1;
    }
    mtp_buf_free(&raw);
done:
    if (in != stdin)
        fclose(in);
    mtp_buf_free(&out);
    mtp_buf_free(&bin);
    mtp_arena_free(arena);
    if (fflush(stdout) != 0)
        status = 1;
    return status;
}

/* ---- info ---- */

static bool parse_id(const char *s, uint32_t *id)
{
    const char *h = NULL;
    if (s[0] == '#')
        h = s + 1;
    else if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        h = s + 2;
    if (h) {
        size_t n = strlen(h);
        if (n == 0 || n > 8)
            return false;
        uint32_t v = 0;
        for (size_t i = 0; i < n; i++) {
            int d = mtp_hexval((unsigned char)h[i]);
            if (d < 0)
                return false;
            v = v << 4 | (uint32_t)d;
        }
        *id = v;
        return true;
    }
    if (s[0] >= '0' && s[0] <= '9') {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end || v > 0xffffffffull)
            return false;
        *id = (uint32_t)v;
        return true;
    }
    if (s[0] == '-') {   /* a signed decimal id, as some tools print them */
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || *end || v < INT32_MIN)
            return false;
        *id = (uint32_t)(int32_t)v;
        return true;
    }
    return false;
}

static void json_str(mtp_buf_t *b, const char *s)
{
    mtp_bytes_t v = {(const uint8_t *)s, strlen(s)};
    static const mtp_tl_type_t tstring = {MTP_TL_STRING, sizeof(mtp_bytes_t), "string",
                                          NULL, NULL, NULL};
    mtp_tl_value_to_json(&tstring, &v, b);
}

static void param_type_text(const mtp_tl_comb_t *c, const mtp_tl_param_t *p, mtp_buf_t *b)
{
    if (p->flag_param >= 0 && p->flag_param < (int)c->nparams)
        mtp_buf_printf(b, "%s.%d?", c->params[p->flag_param].name, p->flag_bit);
    const char *t = p->type->text;
    if (!t)
        t = p->type->kind == MTP_TL_NAT ? "#" : "?";
    mtp_buf_printf(b, "%s", t);
}

static const char *result_text(const mtp_tl_comb_t *c)
{
    if (!c->is_method)
        return c->tname && c->tname->name ? c->tname->name : "Object";
    if (c->result && c->result->text)
        return c->result->text;
    return "X";
}

static void info_comb(const opts_t *o, const mtp_tl_comb_t *c, mtp_buf_t *b)
{
    if (o->json) {
        mtp_buf_printf(b, "{\"name\":");
        json_str(b, c->name);
        mtp_buf_printf(b, ",\"id\":\"%08x\",\"kind\":\"%s\",\"%s\":", c->id,
                       c->is_method ? "method" : "constructor", c->is_method ? "result" : "type");
        json_str(b, result_text(c));
        mtp_buf_printf(b, ",\"layer\":");
        json_str(b, c->layer && c->layer->name ? c->layer->name : "");
        mtp_buf_printf(b, ",\"line\":");
        json_str(b, c->line ? c->line : "");
        mtp_buf_printf(b, ",\"fields\":[");
        for (uint16_t i = 0; i < c->nparams; i++) {
            const mtp_tl_param_t *p = &c->params[i];
            mtp_buf_printf(b, "%s{\"name\":", i ? "," : "");
            json_str(b, p->name);
            mtp_buf_printf(b, ",\"type\":");
            json_str(b, p->type->text ? p->type->text : (p->type->kind == MTP_TL_NAT ? "#" : "?"));
            if (p->flag_param >= 0 && p->flag_param < (int)c->nparams) {
                mtp_buf_printf(b, ",\"flags\":");
                json_str(b, c->params[p->flag_param].name);
                mtp_buf_printf(b, ",\"bit\":%d", p->flag_bit);
            }
            mtp_buf_putc(b, '}');
        }
        mtp_buf_printf(b, "]}\n");
        return;
    }
    mtp_buf_printf(b, "%s;\n", c->line ? c->line : c->name);
    mtp_buf_printf(b, "  id:     0x%08x%s\n", c->id,
                   c->id_mismatch ? " (differs from the crc32 of the line: known exception)" : "");
    mtp_buf_printf(b, "  kind:   %s\n", c->is_method ? "method" : "constructor");
    mtp_buf_printf(b, "  %s %s\n", c->is_method ? "result:" : "type:  ", result_text(c));
    mtp_buf_printf(b, "  schema: %s\n", c->layer && c->layer->name ? c->layer->name : "?");
    if (!c->nparams) {
        mtp_buf_printf(b, "  fields: none\n");
        return;
    }
    mtp_buf_printf(b, "  fields:\n");
    for (uint16_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *p = &c->params[i];
        mtp_buf_printf(b, "    %s: ", p->name);
        param_type_text(c, p, b);
        if (p->type->kind == MTP_TL_NAT)
            mtp_buf_printf(b, "  (flags word)");
        else if (p->flag_param >= 0)
            mtp_buf_printf(b, "  (optional, bit %d = 0x%x)", p->flag_bit,
                           p->flag_bit >= 0 && p->flag_bit < 32 ? 1u << p->flag_bit : 0u);
        mtp_buf_putc(b, '\n');
    }
}

static int cmd_info(const opts_t *o, const mtp_tl_layer_t *layer)
{
    mtp_buf_t out;
    mtp_buf_init(&out);
    const char *q = o->arg;
    const mtp_tl_comb_t *c = NULL;
    uint32_t id;
    int status = 0;
    if (parse_id(q, &id)) {
        c = mtp_tl_find_id(layer, id);
        if (!c) {
            fprintf(stderr, "%s: info: no constructor or method with id 0x%08x in %s\n", prog,
                    id, layer->name);
            return 1;
        }
        info_comb(o, c, &out);
    } else if ((c = mtp_tl_find_name(layer, q, strlen(q)))) {
        info_comb(o, c, &out);
    } else {
        const mtp_tl_tname_t *t = mtp_tl_find_type(layer, q, strlen(q));
        if (!t) {
            fprintf(stderr, "%s: info: no constructor, method or type named '%s' in %s\n",
                    prog, q, layer->name);
            return 1;
        }
        if (o->json) {
            mtp_buf_printf(&out, "{\"type\":");
            json_str(&out, t->name);
            mtp_buf_printf(&out, ",\"constructors\":[");
            for (uint32_t i = 0; i < t->ncons; i++) {
                mtp_buf_printf(&out, "%s{\"name\":", i ? "," : "");
                json_str(&out, t->cons[i]->name);
                mtp_buf_printf(&out, ",\"id\":\"%08x\"}", t->cons[i]->id);
            }
            mtp_buf_printf(&out, "]}\n");
        } else {
            mtp_buf_printf(&out, "type %s: %u constructor%s\n", t->name, t->ncons,
                           t->ncons == 1 ? "" : "s");
            for (uint32_t i = 0; i < t->ncons; i++)
                mtp_buf_printf(&out, "  %s#%08x\n", t->cons[i]->name, t->cons[i]->id);
        }
    }
    if (flush_out(&out))
        status = 1;
    mtp_buf_free(&out);
    if (fflush(stdout) != 0)
        status = 1;
    return status;
}

int main(int argc, char **argv)
{
    opts_t o;
    parse_args(argc, argv, &o);
    if (o.lines && !strcmp(o.cmd, "decode"))
        o.hex = true;
    const mtp_tl_layer_t *layer = mtp_tl_layer(o.layer);
    if (!layer) {
        int ls[16];
        int n = mtp_tl_layers(ls, 16);
        fprintf(stderr, "%s: unknown layer %d (available:", prog, o.layer);
        for (int i = 0; i < n && i < 16; i++)
            fprintf(stderr, " %d", ls[i]);
        fprintf(stderr, ")\n");
        return EXIT_USAGE;
    }
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    if (!strcmp(o.cmd, "decode"))
        return cmd_decode(&o, layer);
    if (!strcmp(o.cmd, "encode"))
        return cmd_encode(&o, layer);
    return cmd_info(&o, layer);
}
