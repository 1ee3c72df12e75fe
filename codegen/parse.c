/* mtp-codegen — TL schema parser and type resolver. */
#include "cg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ids that are not the crc of their line (PROTOCOL.md §1.5; msg_container because the
 * documented id hashes the "vector message" spelling, not "vector<%Message>"). */
static const char *const known_id_exceptions[] = {
    "inputPeerPhotoFileLocationLegacy", "inputStickerSetThumbLegacy", "ipPortSecret",
    "accessPointRule", "help.configSimple", "msg_container", NULL
};

static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c) { return is_lower(c) || is_upper(c); }
static bool is_ident_char(char c) { return is_alpha(c) || is_digit(c) || c == '_'; }
static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

/* "name" or "ns.name"; returns the length matched at s (0 if none). */
static size_t scan_name(const char *s, size_t n)
{
    size_t i = 0;
    if (i >= n || !(is_alpha(s[i]) || s[i] == '_'))
        return 0;
    while (i < n && is_ident_char(s[i]))
        i++;
    if (i + 1 < n && s[i] == '.' && (is_alpha(s[i + 1]) || s[i + 1] == '_')) {
        i++;
        while (i < n && is_ident_char(s[i]))
            i++;
    }
    return i;
}

static bool is_valid_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && scan_name(s, n) == n;
}

static const char *last_segment(const char *name)
{
    const char *d = strrchr(name, '.');
    return d ? d + 1 : name;
}

static char *mangle_dots(const char *prefix, const char *name)
{
    size_t pl = strlen(prefix), nl = strlen(name);
    char *s = cg_alloc(pl + nl + 1);
    memcpy(s, prefix, pl);
    for (size_t i = 0; i < nl; i++)
        s[pl + i] = name[i] == '.' ? '_' : name[i];
    return s;
}

static char *str_cat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = cg_alloc(la + lb + lc + 1);
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc);
    return s;
}

/* ---- type expressions ---- */

static cg_texpr *parse_texpr_at(const char *s, size_t n, size_t *pos, const char **err)
{
    size_t start = *pos, i = *pos;
    cg_texpr *t = cg_alloc(sizeof *t);
    if (i < n && s[i] == '!') {
        t->bang = true;
        i++;
    }
    if (i < n && s[i] == '%') {
        t->pct = true;
        i++;
    }
    size_t m = scan_name(s + i, n - i);
    if (m == 0 && i < n && s[i] == '#')
        m = 1;
    if (m == 0) {
        *err = "expected a type name";
        return NULL;
    }
    t->name = cg_strndup(s + i, m);
    i += m;
    if (i < n && s[i] == '<') {
        i++;
        t->arg = parse_texpr_at(s, n, &i, err);
        if (!t->arg)
            return NULL;
        if (i >= n || s[i] != '>') {
            *err = "unbalanced '<>' in type";
            return NULL;
        }
        i++;
    }
    t->text = cg_strndup(s + start, i - start);
    *pos = i;
    return t;
}

static cg_texpr *parse_texpr(const char *s, const char **err)
{
    size_t n = strlen(s), pos = 0;
    cg_texpr *t = parse_texpr_at(s, n, &pos, err);
    if (t && pos != n) {
        *err = (s[pos] == '>' || s[pos] == '<') ? "unbalanced '<>' in type"
                                                : "unexpected character in type";
        return NULL;
    }
    return t;
}

/* ---- schema registration ---- */

static cg_tname *tname_get(cg_schema *s, const char *name)
{
    cg_tname *t = map_get(&s->tname_by_name, name);
    if (t)
        return t;
    t = cg_alloc(sizeof *t);
    t->name = cg_strdup(name);
    t->cvar = mangle_dots(s->prefix, name);
    t->cvar = str_cat3("mtp_tlt_", t->cvar, "");
    t->schema = s;
    map_put(&s->tname_by_name, t->name, t);
    if (s->ntnames == s->captnames) {
        s->captnames = s->captnames ? s->captnames * 2 : 64;
        cg_tname **nt = cg_alloc((size_t)s->captnames * sizeof *nt);
        if (s->ntnames)
            memcpy(nt, s->tnames, (size_t)s->ntnames * sizeof *nt);
        s->tnames = nt;
    }
    s->tnames[s->ntnames++] = t;
    return t;
}

static void tname_add(cg_tname *t, cg_comb *c)
{
    if (t->ncons == t->capcons) {
        t->capcons = t->capcons ? t->capcons * 2 : 4;
        cg_comb **nc = cg_alloc((size_t)t->capcons * sizeof *nc);
        if (t->ncons)
            memcpy(nc, t->cons, (size_t)t->ncons * sizeof *nc);
        t->cons = nc;
    }
    t->cons[t->ncons++] = c;
}

static void schema_add(cg_schema *s, cg_comb *c)
{
    cg_comb *dup = map_get(&s->comb_by_name, c->name);
    if (dup) {
        cg_error(s->path, c->lineno, "duplicate combinator '%s' (first declared at line %d)",
                 c->name, dup->lineno);
        return;
    }
    char idkey[16];
    snprintf(idkey, sizeof idkey, "#%08x", c->id);
    dup = map_get(&s->comb_by_name, idkey);
    if (dup) {
        cg_error(s->path, c->lineno, "duplicate id #%08x of '%s' (also '%s' at line %d)",
                 c->id, c->name, dup->name, dup->lineno);
        return;
    }
    c->cname = mangle_dots(s->prefix, c->name);
    dup = map_get(&s->cvar_used, c->cname);
    if (dup) {
        cg_error(s->path, c->lineno, "C name '%s' of '%s' clashes with '%s' (line %d)",
                 c->cname, c->name, dup->name, dup->lineno);
        return;
    }
    map_put(&s->cvar_used, c->cname, c);
    map_put(&s->comb_by_name, c->name, c);
    map_put(&s->comb_by_name, cg_strdup(idkey), c);
    if (s->ncombs == s->capcombs) {
        s->capcombs = s->capcombs ? s->capcombs * 2 : 256;
        cg_comb **nc = cg_alloc((size_t)s->capcombs * sizeof *nc);
        if (s->ncombs)
            memcpy(nc, s->combs, (size_t)s->ncombs * sizeof *nc);
        s->combs = nc;
    }
    s->combs[s->ncombs++] = c;
    if (!c->is_method) {
        c->tname = tname_get(s, c->result_tx->name);
        tname_add(c->tname, c);
    }
}

/* ---- declarations ---- */

#define MAX_TOKENS 512

static void parse_decl(cg_schema *s, char *text, int lineno, bool functions)
{
    const char *path = s->path;
    char *tok[MAX_TOKENS];
    int nt = 0;
    for (char *p = text; *p;) {
        while (*p && is_space(*p))
            p++;
        if (!*p)
            break;
        if (nt == MAX_TOKENS) {
            cg_error(path, lineno, "too many parameters");
            return;
        }
        tok[nt++] = p;
        while (*p && !is_space(*p))
            p++;
        if (*p)
            *p++ = '\0';
    }
    int eq = -1;
    for (int i = 0; i < nt; i++)
        if (strcmp(tok[i], "=") == 0) {
            eq = i;
            break;
        }
    if (eq < 0) {
        cg_error(path, lineno, "missing '=' and result type");
        return;
    }
    if (eq == 0) {
        cg_error(path, lineno, "missing combinator name");
        return;
    }
    /* builtin declarations: "vector#1cb5c415 {t:Type} # [ t ] = Vector t", "int ? = Int" */
    char *hash = strchr(tok[0], '#');
    size_t nlen = hash ? (size_t)(hash - tok[0]) : strlen(tok[0]);
    if (nlen == 6 && memcmp(tok[0], "vector", 6) == 0)
        return;
    for (int i = 1; i < eq; i++)
        if (strcmp(tok[i], "?") == 0 || strcmp(tok[i], "#") == 0 || tok[i][0] == '[' ||
            strcmp(tok[i], "]") == 0)
            return;

    cg_comb *c = cg_alloc(sizeof *c);
    c->schema = s;
    c->lineno = lineno;
    c->is_method = functions;
    c->name = cg_strndup(tok[0], nlen);
    if (!is_valid_name(c->name)) {
        cg_error(path, lineno, "bad combinator name '%s'", c->name);
        return;
    }
    if (!is_lower(last_segment(c->name)[0])) {
        cg_error(path, lineno, "combinator name '%s' must start with a lower-case letter",
                 c->name);
        return;
    }
    if (hash) {
        const char *h = hash + 1;
        size_t hl = strlen(h);
        bool ok = hl >= 1 && hl <= 8;
        for (size_t i = 0; ok && i < hl; i++)
            ok = is_digit(h[i]) || (h[i] >= 'a' && h[i] <= 'f') || (h[i] >= 'A' && h[i] <= 'F');
        if (!ok) {
            cg_error(path, lineno, "bad constructor id '#%s' (1 to 8 hex digits expected)", h);
            return;
        }
        c->id = (uint32_t)strtoul(h, NULL, 16);
        c->explicit_id = true;
    }
    if (nt - eq - 1 != 1) {
        cg_error(path, lineno, nt - eq - 1 == 0 ? "missing result type"
                                                : "result type must be a single type expression");
        return;
    }

    /* the declaration text, single-spaced */
    cg_buf lb = { 0 };
    for (int i = 0; i < nt; i++) {
        if (i)
            buf_put(&lb, " ", 1);
        buf_puts(&lb, tok[i]);
    }
    c->line = cg_strdup(lb.s);
    buf_free(&lb);

    c->params = cg_alloc((size_t)eq * sizeof *c->params);
    c->generics = cg_alloc((size_t)eq * sizeof *c->generics);
    const char *err = NULL;
    for (int i = 1; i < eq; i++) {
        char *t = tok[i];
        size_t tl = strlen(t);
        if (t[0] == '{') {
            char *colon = strchr(t, ':');
            if (tl < 4 || t[tl - 1] != '}' || !colon) {
                cg_error(path, lineno, "malformed generic parameter '%s' ({X:Type} expected)", t);
                return;
            }
            char *gname = cg_strndup(t + 1, (size_t)(colon - t - 1));
            if (!is_valid_name(gname) || strncmp(colon + 1, "Type}", 5) != 0 || colon[6]) {
                cg_error(path, lineno, "malformed generic parameter '%s' ({X:Type} expected)", t);
                return;
            }
            c->generics[c->ngenerics++] = gname;
            continue;
        }
        char *colon = strchr(t, ':');
        if (!colon) {
            cg_error(path, lineno, "malformed parameter '%s' (name:type expected)", t);
            return;
        }
        cg_param *p = &c->params[c->nparams];
        p->name = cg_strndup(t, (size_t)(colon - t));
        p->flag_param = -1;
        p->flag_bit = -1;
        if (!p->name[0] || scan_name(p->name, strlen(p->name)) != strlen(p->name) ||
            strchr(p->name, '.')) {
            cg_error(path, lineno, "bad parameter name '%s'", p->name);
            return;
        }
        for (int k = 0; k < c->nparams; k++)
            if (strcmp(c->params[k].name, p->name) == 0) {
                cg_error(path, lineno, "duplicate parameter '%s'", p->name);
                return;
            }
        const char *ty = colon + 1;
        char *q = strchr(ty, '?');
        if (q) {
            const char *dot = memchr(ty, '.', (size_t)(q - ty));
            if (!dot || dot == ty || dot + 1 == q) {
                cg_error(path, lineno, "malformed condition in '%s' (name:flags.N?Type expected)", t);
                return;
            }
            char *fname = cg_strndup(ty, (size_t)(dot - ty));
            int fi = -1;
            for (int k = 0; k < c->nparams; k++)
                if (strcmp(c->params[k].name, fname) == 0)
                    fi = k;
            if (fi < 0) {
                cg_error(path, lineno,
                         "'%s' refers to '%s', which is not a '#' parameter declared before it",
                         p->name, fname);
                return;
            }
            if (strcmp(c->params[fi].tx->text, "#") != 0 || c->params[fi].flag_param >= 0) {
                cg_error(path, lineno, "'%s' refers to '%s', which is not a '#' parameter",
                         p->name, fname);
                return;
            }
            unsigned long bit = 0;
            bool ok = dot + 1 < q && q - dot - 1 <= 3;
            for (const char *d = dot + 1; ok && d < q; d++) {
                ok = is_digit(*d);
                bit = bit * 10 + (unsigned long)(*d - '0');
            }
            if (!ok || bit > 31) {
                cg_error(path, lineno, "flag bit '%.*s' of '%s' out of range (0..31)",
                         (int)(q - dot - 1), dot + 1, p->name);
                return;
            }
            p->flag_param = fi;
            p->flag_bit = (int)bit;
            ty = q + 1;
        }
        p->tx = parse_texpr(ty, &err);
        if (!p->tx) {
            cg_error(path, lineno, "%s: '%s'", err, t);
            return;
        }
        if (p->flag_param >= 0 && strcmp(p->tx->text, "#") == 0) {
            cg_error(path, lineno, "a '#' parameter cannot be conditional ('%s')", t);
            return;
        }
        c->nparams++;
    }

    int nwords = 0;
    for (int k = 0; k < c->nparams; k++)
        nwords += strcmp(c->params[k].tx->text, "#") == 0;
    if (nwords > 8 || c->nparams > 127) {
        cg_error(path, lineno, "too many parameters or '#' words (at most 127 and 8)");
        return;
    }

    c->result_tx = parse_texpr(tok[eq + 1], &err);
    if (!c->result_tx) {
        cg_error(path, lineno, "%s: '%s'", err, tok[eq + 1]);
        return;
    }
    if (!functions) {
        cg_texpr *r = c->result_tx;
        if (r->bang || r->pct || r->arg || !is_upper(last_segment(r->name)[0])) {
            cg_error(path, lineno, "constructor result '%s' must be a boxed type name", r->text);
            return;
        }
    }

    uint32_t crc = mtp_tl_line_crc(c->line, strlen(c->line));
    if (!c->explicit_id) {
        c->id = crc;
    } else if (crc != c->id) {
        c->id_mismatch = true;
        bool known = false;
        for (int i = 0; known_id_exceptions[i]; i++)
            known = known || strcmp(known_id_exceptions[i], c->name) == 0;
        if (!known)
            cg_warn(path, lineno, "id #%08x of '%s' differs from the crc32 of its line (%08x)",
                    c->id, c->name, crc);
    }
    schema_add(s, c);
}

int cg_parse_file(cg_schema *s)
{
    int before = cg_nerrors;
    FILE *f = fopen(s->path, "rb");
    if (!f) {
        cg_error(s->path, 0, "cannot open: %s", strerror(errno));
        return 1;
    }
    cg_buf b = { 0 };
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_put(&b, chunk, n);
    bool rerr = ferror(f);
    fclose(f);
    if (rerr) {
        cg_error(s->path, 0, "read error");
        buf_free(&b);
        return 1;
    }
    if (!b.s)
        buf_put(&b, "", 0);

    bool functions = false;
    int lineno = 0;
    char *p = b.s, *end = b.s + b.len;
    while (p < end) {
        lineno++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        *le = '\0';
        if (memchr(p, '\0', (size_t)(le - p))) {
            cg_error(s->path, lineno, "NUL byte in schema");
            p = next;
            continue;
        }
        char *cm = strstr(p, "//");
        if (cm) {
            int layer;
            if (sscanf(cm, "// LAYER %d", &layer) == 1 && !s->service && layer != s->layer)
                cg_warn(s->path, lineno, "file says LAYER %d but was given as layer %d",
                        layer, s->layer);
            *cm = '\0';
            le = cm;
        }
        while (p < le && is_space(*p))
            p++;
        while (le > p && is_space(le[-1]))
            *--le = '\0';
        if (p == le) {
            p = next;
            continue;
        }
        if (strncmp(p, "---", 3) == 0) {
            if (strcmp(p, "---functions---") == 0)
                functions = true;
            else if (strcmp(p, "---types---") == 0)
                functions = false;
            else
                cg_error(s->path, lineno, "unknown section '%s'", p);
            p = next;
            continue;
        }
        char *semi = strchr(p, ';');
        if (!semi) {
            cg_error(s->path, lineno, "unterminated declaration (missing ';')");
        } else if (semi[1]) {
            cg_error(s->path, lineno, "text after ';' (one declaration per line)");
        } else {
            *semi = '\0';
            parse_decl(s, p, lineno, functions);
        }
        p = next;
    }
    buf_free(&b);
    return cg_nerrors - before;
}

/* ---- resolution ---- */

const char *cg_kind_name(int kind)
{
    static const char *const names[] = {
        "0", "MTP_TL_INT", "MTP_TL_LONG", "MTP_TL_DOUBLE", "MTP_TL_INT128", "MTP_TL_INT256",
        "MTP_TL_STRING", "MTP_TL_BYTES", "MTP_TL_BOOL", "MTP_TL_TRUE", "MTP_TL_NAT",
        "MTP_TL_VECTOR", "MTP_TL_BARE_VECTOR", "MTP_TL_OBJECT", "MTP_TL_BARE_OBJECT",
        "MTP_TL_QUERY"
    };
    return kind >= 1 && kind <= K_QUERY ? names[kind] : "0";
}

static cg_tname *find_tname(cg_schema *s, const char *name)
{
    cg_tname *t = map_get(&s->tname_by_name, name);
    if (!t && s->fallback)
        t = map_get(&s->fallback->tname_by_name, name);
    return t;
}

static cg_comb *find_comb(cg_schema *s, const char *name)
{
    cg_comb *c = map_get(&s->comb_by_name, name);
    if (!c && s->fallback)
        c = map_get(&s->fallback->comb_by_name, name);
    return c;
}

static char *type_cvar(cg_schema *s, const char *text)
{
    cg_buf b = { 0 };
    buf_puts(&b, "ty_");
    for (const char *p = text; *p; p++) {
        char c = *p;
        if (is_ident_char(c))
            buf_put(&b, &c, 1);
        else if (c == '.' || c == '<')
            buf_put(&b, "_", 1);
        else if (c == '%')
            buf_put(&b, "B", 1);
        else if (c == '!')
            buf_put(&b, "Q", 1);
        else if (c == '#')
            buf_puts(&b, "nat");
    }
    size_t base = b.len;
    for (int k = 2; map_get(&s->cvar_used, b.s); k++) {
        b.len = base;
        buf_printf(&b, "_%d", k);
    }
    char *r = cg_strdup(b.s);
    buf_free(&b);
    map_put(&s->cvar_used, r, r);
    return r;
}

static cg_type *intern(cg_schema *s, const char *key, int kind, const char *text)
{
    cg_type *t = map_get(&s->type_by_key, key);
    if (t)
        return t;
    t = cg_alloc(sizeof *t);
    t->kind = kind;
    t->key = cg_strdup(key);
    t->text = cg_strdup(text);
    t->cvar = type_cvar(s, text);
    map_put(&s->type_by_key, t->key, t);
    if (s->ntypes == s->captypes) {
        s->captypes = s->captypes ? s->captypes * 2 : 256;
        cg_type **nt = cg_alloc((size_t)s->captypes * sizeof *nt);
        if (s->ntypes)
            memcpy(nt, s->types, (size_t)s->ntypes * sizeof *nt);
        s->types = nt;
    }
    s->types[s->ntypes++] = t;
    return t;
}

static bool is_generic(const cg_comb *c, const char *name)
{
    for (int i = 0; i < c->ngenerics; i++)
        if (strcmp(c->generics[i], name) == 0)
            return true;
    return false;
}

static const struct { const char *name; int kind; } builtins[] = {
    { "int", K_INT }, { "long", K_LONG }, { "double", K_DOUBLE }, { "int128", K_INT128 },
    { "int256", K_INT256 }, { "string", K_STRING }, { "bytes", K_BYTES }, { "Bool", K_BOOL },
    { "true", K_TRUE }, { "#", K_NAT }, { NULL, 0 }
};

static cg_type *resolve_type(cg_schema *s, cg_comb *c, const cg_texpr *tx)
{
    const char *path = s->path;
    int line = c->lineno;
    if (tx->bang) {
        if (tx->pct || tx->arg || !is_generic(c, tx->name)) {
            cg_error(path, line, "'%s': '!' needs a type variable declared as {X:Type}", tx->text);
            return NULL;
        }
        char *key = str_cat3("!", tx->name, "");
        return intern(s, key, K_QUERY, tx->text);
    }
    if (tx->arg) {
        bool boxed = strcmp(tx->name, "Vector") == 0;
        if (!boxed && strcmp(tx->name, "vector") != 0) {
            cg_error(path, line, "'%s': only Vector<T> and vector<T> take a type argument",
                     tx->text);
            return NULL;
        }
        if (tx->pct) {
            cg_error(path, line, "'%s': '%%' on a vector (write vector<T> for a bare vector)",
                     tx->text);
            return NULL;
        }
        cg_type *e = resolve_type(s, c, tx->arg);
        if (!e)
            return NULL;
        if (e->kind == K_TRUE || e->kind == K_NAT || e->kind == K_QUERY) {
            cg_error(path, line, "'%s': vectors of '%s' are not supported", tx->text, e->text);
            return NULL;
        }
        char *key = str_cat3(tx->name, "<", e->key);
        key = str_cat3(key, ">", "");
        cg_type *t = intern(s, key, boxed ? K_VECTOR : K_BARE_VECTOR, tx->text);
        t->elem = e;
        return t;
    }
    if (strcmp(tx->name, "Vector") == 0 || strcmp(tx->name, "vector") == 0) {
        cg_error(path, line, "'%s' needs a type argument", tx->text);
        return NULL;
    }
    if (tx->pct) {
        cg_comb *bc = NULL;
        cg_tname *tn = find_tname(s, tx->name);
        if (tn) {
            if (tn->ncons != 1) {
                cg_error(path, line, "'%s': bare type needs exactly one constructor (%s has %d)",
                         tx->text, tn->name, tn->ncons);
                return NULL;
            }
            bc = tn->cons[0];
        } else {
            bc = find_comb(s, tx->name);
            if (!bc || bc->is_method) {
                cg_error(path, line, "unknown type '%s'", tx->text);
                return NULL;
            }
        }
        char *key = str_cat3("%", bc->schema->prefix, bc->name);
        key = str_cat3(key, "|", tx->text);
        cg_type *t = intern(s, key, K_BARE_OBJECT, tx->text);
        t->bare = bc;
        return t;
    }
    if (is_generic(c, tx->name)) {
        char *key = str_cat3("?", tx->name, "");
        return intern(s, key, K_OBJECT, tx->text);
    }
    for (int i = 0; builtins[i].name; i++)
        if (strcmp(tx->name, builtins[i].name) == 0)
            return intern(s, tx->name, builtins[i].kind, tx->text);
    if (strcmp(tx->name, "Object") == 0)
        return intern(s, "Object", K_OBJECT, "Object");
    if (is_lower(last_segment(tx->name)[0])) {
        cg_comb *bc = find_comb(s, tx->name);
        if (!bc || bc->is_method) {
            cg_error(path, line, "unknown type '%s' (not a builtin or a constructor name)",
                     tx->text);
            return NULL;
        }
        char *key = str_cat3("%", bc->schema->prefix, bc->name);
        key = str_cat3(key, "|", tx->text);
        cg_type *t = intern(s, key, K_BARE_OBJECT, tx->text);
        t->bare = bc;
        return t;
    }
    cg_tname *tn = find_tname(s, tx->name);
    if (!tn) {
        cg_error(path, line, "unknown type '%s' (no constructor builds it)", tx->text);
        return NULL;
    }
    char *key = str_cat3("=", tn->schema->prefix, tn->name);
    cg_type *t = intern(s, key, K_OBJECT, tx->text);
    t->tname = tn;
    return t;
}

/* Names a struct member cannot have: C11 and C++ keywords, common object-like macros. */
static const char *const reserved[] = {
    "_", "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
    "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
    "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
    "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "bool", "true",
    "false", "alignas", "alignof", "noreturn", "static_assert", "thread_local", "complex",
    "imaginary", "asm", "typeof", "errno", "stdin", "stdout", "stderr", "unix", "linux",
    "i386", "NULL", "EOF", "and", "and_eq", "bitand", "bitor", "catch", "char16_t",
    "char32_t", "char8_t", "class", "compl", "concept", "consteval", "constexpr",
    "constinit", "const_cast", "co_await", "co_return", "co_yield", "decltype", "delete",
    "dynamic_cast", "explicit", "export", "friend", "mutable", "namespace", "new",
    "noexcept", "not", "not_eq", "nullptr", "operator", "or", "or_eq", "private",
    "protected", "public", "reinterpret_cast", "requires", "static_cast", "template",
    "this", "throw", "try", "typeid", "typename", "using", "virtual", "wchar_t", "xor",
    "xor_eq", NULL
};

static bool is_reserved(const char *name)
{
    for (int i = 0; reserved[i]; i++)
        if (strcmp(reserved[i], name) == 0)
            return true;
    return name[0] == '_' && (name[1] == '_' || is_upper(name[1]));
}

static void assign_field_names(cg_comb *c)
{
    cg_map used = { 0 };
    /* has_ members first: their names are part of the documented contract */
    for (int i = 0; i < c->nparams; i++) {
        cg_param *p = &c->params[i];
        int k = p->type ? p->type->kind : 0;
        if (p->flag_param >= 0 && k != K_TRUE && k != K_OBJECT && k != K_BARE_OBJECT &&
            k != K_QUERY) {
            p->chas = str_cat3("has_", p->name, "");
            map_put(&used, p->chas, p);
        }
    }
    for (int i = 0; i < c->nparams; i++) {
        cg_param *p = &c->params[i];
        char *n = p->name;
        if (is_reserved(n))
            n = str_cat3(n, "_", "");
        while (map_get(&used, n))
            n = str_cat3(n, "_", "");
        p->cfield = n;
        map_put(&used, n, p);
    }
}

void cg_resolve(cg_schema *s)
{
    for (int ci = 0; ci < s->ncombs; ci++) {
        cg_comb *c = s->combs[ci];
        for (int i = 0; i < c->nparams; i++) {
            cg_param *p = &c->params[i];
            p->type = resolve_type(s, c, p->tx);
            if (p->type && p->type->kind == K_TRUE && p->flag_param < 0)
                cg_warn(s->path, c->lineno, "'%s:true' without a flag carries no information",
                        p->name);
        }
        if (c->is_method) {
            cg_texpr *r = c->result_tx;
            if (r->bang) {
                cg_error(s->path, c->lineno, "result type '%s' cannot be '!'", r->text);
            } else if (!r->arg && !r->pct && is_generic(c, r->name)) {
                c->result = NULL;
            } else {
                c->result = resolve_type(s, c, r);
                if (c->result && (c->result->kind == K_TRUE || c->result->kind == K_NAT))
                    cg_error(s->path, c->lineno, "result type '%s' is not a value", r->text);
            }
        }
        assign_field_names(c);
    }
}
