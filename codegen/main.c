/*
 * mtp-codegen — generate the TL descriptors and codecs of libmtproto.
 *
 *   mtp-codegen --out DIR --service mtproto.tl --layer 228:api.tl [--layer 227:api-227.tl ...]
 *               [--all-codecs] [--quiet] [--check]
 *
 * The first --layer is the public one: its C names have no prefix and its header is
 * DIR/include/mtproto/tl_schema.h. Writes (only files whose content changed):
 *   DIR/tl_mtproto.c, DIR/include/mtproto/tl_mtproto.h      service schema (prefix mt_)
 *   DIR/tl_api<N>.c                                          each layer
 *   DIR/include/mtproto/tl_schema.h                          first layer
 *   DIR/tl_l<N>.h                                            other layers (prefix l<N>_)
 *   DIR/tl_layers.c                                          mtp_tl_layer(), mtp_tl_layers()
 * Exit status: 0 on success, 1 for schema errors (reported as file:line: message), 2 for
 * usage or I/O errors.
 */
#include "cg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_LAYERS 32

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mtp-codegen --out DIR --service FILE [--layer N:FILE]... [--quiet] [--check]\n"
            "  --service FILE   the MTProto service schema (layer 0, C prefix mt_)\n"
            "  --layer N:FILE   an API layer; the first one is public (no C prefix,\n"
            "                   include/mtproto/tl_schema.h), the others get prefix lN_\n"
            "  --all-codecs     generated codecs for every combinator (default: for the\n"
            "                   service schema and the constructors of the first layer;\n"
            "                   the rest use the compact descriptor-driven codecs)\n"
            "  --quiet          no warnings\n"
            "  --check          parse and resolve only, write nothing\n");
}

static int mkdir_p(const char *path)
{
    char *p = cg_strdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int nwritten, nunchanged;

/* Write buf to path unless the file already has exactly that content. */
static int write_if_changed(const char *dir, const char *name, const cg_buf *b)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f) {
        bool same = true;
        size_t off = 0;
        char chunk[65536];
        size_t n;
        while (same && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
            same = off + n <= b->len && memcmp(chunk, b->s + off, n) == 0;
            off += n;
        }
        same = same && !ferror(f) && off == b->len;
        fclose(f);
        if (same) {
            nunchanged++;
            return 0;
        }
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "mtp-codegen: %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    bool ok = fwrite(b->s, 1, b->len, f) == b->len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "mtp-codegen: cannot write %s: %s\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    nwritten++;
    return 0;
}

static char *fmt(const char *f, int n)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, f, n);
    return cg_strdup(tmp);
}

int main(int argc, char **argv)
{
    const char *out = NULL, *service = NULL;
    const char *lpath[MAX_LAYERS];
    int lnum[MAX_LAYERS], nl = 0;
    bool check = false, all_straight = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--quiet") == 0) {
            cg_quiet = true;
        } else if (strcmp(a, "--check") == 0) {
            check = true;
        } else if (strcmp(a, "--all-codecs") == 0) {
            all_straight = true;
        } else if ((strcmp(a, "--out") == 0 || strcmp(a, "--service") == 0 ||
                    strcmp(a, "--layer") == 0) && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(a, "--out") == 0) {
                out = v;
            } else if (strcmp(a, "--service") == 0) {
                service = v;
            } else {
                char *end;
                long n = strtol(v, &end, 10);
                if (end == v || *end != ':' || !end[1] || n <= 0 || n > 100000) {
                    fprintf(stderr, "mtp-codegen: bad --layer '%s' (N:FILE with N > 0)\n", v);
                    return 2;
                }
                if (nl == MAX_LAYERS) {
                    fprintf(stderr, "mtp-codegen: too many layers\n");
                    return 2;
                }
                for (int k = 0; k < nl; k++)
                    if (lnum[k] == n) {
                        fprintf(stderr, "mtp-codegen: layer %ld given twice\n", n);
                        return 2;
                    }
                lnum[nl] = (int)n;
                lpath[nl++] = end + 1;
            }
        } else {
            fprintf(stderr, "mtp-codegen: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!service || (!out && !check)) {
        usage(stderr);
        return 2;
    }

    cg_schema *all[MAX_LAYERS + 1];
    int ns = 0;
    cg_schema *svc = cg_alloc(sizeof *svc);
    svc->path = service;
    svc->service = true;
    svc->prefix = "mt_";
    svc->layer_var = "mtp_tl_layer_mtproto";
    svc->layer_name = "mtproto";
    svc->straight = svc->straight_methods = true;
    all[ns++] = svc;
    for (int i = 0; i < nl; i++) {
        cg_schema *s = cg_alloc(sizeof *s);
        s->path = lpath[i];
        s->layer = lnum[i];
        s->primary = i == 0;
        s->straight = i == 0 || all_straight;
        s->straight_methods = all_straight;
        s->prefix = i == 0 ? "" : fmt("l%d_", lnum[i]);
        s->layer_var = fmt("mtp_tl_layer_%d", lnum[i]);
        s->layer_name = fmt("api%d", lnum[i]);
        s->fallback = svc;
        all[ns++] = s;
    }
    if (nl > 0)
        svc->fallback = all[1];

    for (int i = 0; i < ns; i++)
        cg_parse_file(all[i]);
    for (int i = 0; i < ns; i++)
        if (all[i]->ncombs > 65534)
            cg_error(all[i]->path, 0, "more than 65534 combinators");
    if (cg_nerrors == 0)
        for (int i = 0; i < ns; i++)
            cg_resolve(all[i]);
    if (cg_nerrors) {
        fprintf(stderr, "mtp-codegen: %d error%s\n", cg_nerrors, cg_nerrors == 1 ? "" : "s");
        cg_free_all();
        return 1;
    }
    if (check) {
        cg_free_all();
        return 0;
    }

    cg_all_schemas = all;
    cg_nall_schemas = ns;
    char incdir[4096];
    snprintf(incdir, sizeof incdir, "%s/include/mtproto", out);
    if (mkdir_p(incdir) != 0) {
        fprintf(stderr, "mtp-codegen: cannot create %s: %s\n", incdir, strerror(errno));
        cg_free_all();
        return 2;
    }
    int rc = 0;
    for (int i = 0; i < ns && rc == 0; i++) {
        cg_schema *s = all[i];
        cg_buf h = { 0 }, c = { 0 };
        const char *hname, *hdir, *hinc, *guard, *cname;
        if (s->service) {
            hdir = incdir;
            hname = "tl_mtproto.h";
            hinc = "<mtproto/tl_mtproto.h>";
            guard = "MTPROTO_TL_MTPROTO_H";
            cname = "tl_mtproto.c";
        } else if (s->primary) {
            hdir = incdir;
            hname = "tl_schema.h";
            hinc = "<mtproto/tl_schema.h>";
            guard = "MTPROTO_TL_SCHEMA_H";
            cname = fmt("tl_api%d.c", s->layer);
        } else {
            hdir = out;
            hname = fmt("tl_l%d.h", s->layer);
            hinc = fmt("\"tl_l%d.h\"", s->layer);
            guard = fmt("MTP_TL_L%d_H", s->layer);
            cname = fmt("tl_api%d.c", s->layer);
        }
        cg_emit_schema_header(s, &h, guard);
        cg_emit_schema_source(s, &c, hinc);
        if (write_if_changed(hdir, hname, &h) || write_if_changed(out, cname, &c))
            rc = 2;
        buf_free(&h);
        buf_free(&c);
    }
    if (rc == 0) {
        cg_buf l = { 0 };
        cg_emit_layers(all, ns, &l);
        if (write_if_changed(out, "tl_layers.c", &l))
            rc = 2;
        buf_free(&l);
    }
    if (rc == 0 && !cg_quiet)
        fprintf(stderr, "mtp-codegen: %d file%s written, %d unchanged\n", nwritten,
                nwritten == 1 ? "" : "s", nunchanged);
    cg_free_all();
    return rc;
}
