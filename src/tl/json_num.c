/*
 * libmtproto — number formatting for the TL JSON writer and the printer: the shortest
 * decimal that round-trips a double, laid out as JavaScript prints it.
 */
#include "tl/json_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The decimal digits of an exact integer 0 < v < 2^53 (its shortest form). */
static int int_digits(double v, char digits[24], int *exp10)
{
    unsigned long long u = (unsigned long long)v;
    char tmp[24];
    int k = 0;
    while (u) {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    }
    for (int i = 0; i < k; i++)
        digits[i] = tmp[k - 1 - i];
    *exp10 = k - 1;
    return k;
}

/* The digits of a "d.ddde[+-]xx" text into digits; returns their count, *e the exponent. */
static int split_exp(const char *buf, char digits[24], int *e)
{
    int k = 0;
    const char *s = buf;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            digits[k++] = *s;
    *e = atoi(s + 1);
    return k;
}

/* The correctly rounded k-digit value digits x 10^e misses v; a neighbour one unit in the
 * last place away (dir -1 or +1) may still round-trip (asymmetric intervals at powers of
 * 2). On success the neighbour replaces digits / *nd / *exp10. */
static bool try_neighbour(double v, char digits[24], int k, int e, int dir, int *nd, int *exp10)
{
    char d2[24];
    memcpy(d2, digits, (size_t)k);
    int e2 = e, k2 = k, i = k - 1;
    if (dir > 0) {
        while (i >= 0 && d2[i] == '9')
            d2[i--] = '0';
        if (i < 0) {
            d2[0] = '1';
            memset(d2 + 1, '0', (size_t)(k2 - 1));
            e2++;
        } else {
            d2[i]++;
        }
    } else {
        while (i >= 0 && d2[i] == '0')
            d2[i--] = '9';
        if (i < 0)
            return false;
        d2[i]--;
        if (d2[0] == '0') {
            if (k2 == 1)
                return false;
            memmove(d2, d2 + 1, (size_t)(k2 - 1));
            k2--;
            e2--;
        }
    }
    char b2[48];
    int m = 0;
    b2[m++] = d2[0];
    if (k2 > 1) {
        b2[m++] = '.';
        memcpy(b2 + m, d2 + 1, (size_t)(k2 - 1));
        m += k2 - 1;
    }
    snprintf(b2 + m, sizeof b2 - (size_t)m, "e%d", e2);
    if (strtod(b2, NULL) != v)
        return false;
    memcpy(digits, d2, (size_t)k2);
    *nd = k2;
    *exp10 = e2;
    return true;
}

/* The fewest significant digits (1..17) that round-trip v > 0, trailing zeros dropped. */
static int shortest_digits(double v, char digits[24], int *exp10)
{
    char buf[48];
    int nd = 0;
    bool found = false;
    for (int prec = 1; prec <= 17 && !found; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
        int e, k = split_exp(buf, digits, &e);
        if (strtod(buf, NULL) == v) {
            nd = k;
            *exp10 = e;
            found = true;
            break;
        }
        for (int dir = -1; dir <= 1 && !found; dir += 2)
            found = try_neighbour(v, digits, k, e, dir, &nd, exp10);
    }
    if (!found) { /* cannot happen: 17 digits always round-trip */
        snprintf(buf, sizeof buf, "%.16e", v);
        nd = split_exp(buf, digits, exp10);
    }
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    return nd;
}

/* digits[0..nd) x 10^exp10 laid out as JavaScript does, at o; returns the end. */
static char *js_layout(char *o, const char *digits, int nd, int exp10)
{
    /* n = exp10 + 1 is the position of the decimal point */
    int n = exp10 + 1;
    if (nd <= n && n <= 21) {
        memcpy(o, digits, (size_t)nd);
        o += nd;
        for (int i = nd; i < n; i++)
            *o++ = '0';
    } else if (0 < n && n <= 21) {
        memcpy(o, digits, (size_t)n);
        o += n;
        *o++ = '.';
        memcpy(o, digits + n, (size_t)(nd - n));
        o += nd - n;
    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -n; i++)
            *o++ = '0';
        memcpy(o, digits, (size_t)nd);
        o += nd;
    } else {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(nd - 1));
            o += nd - 1;
        }
        int e = n - 1;
        *o++ = 'e';
        *o++ = e < 0 ? '-' : '+';
        if (e < 0)
            e = -e;
        char t[8];
        int k = 0;
        do {
            t[k++] = (char)('0' + e % 10);
            e /= 10;
        } while (e);
        while (k)
            *o++ = t[--k];
    }
    return o;
}

size_t mtp_tl_fmt_double(double v, char out[40])
{
    if (isnan(v) || isinf(v)) {
        out[0] = 0;
        return 0;
    }
    if (v == 0) {
        out[0] = '0';
        out[1] = 0;
        return 1;
    }
    char *o = out;
    if (v < 0) {
        *o++ = '-';
        v = -v;
    }
    char digits[24];
    int nd, exp10 = 0;
    if (v < 1e21 && v == floor(v) && v < 9007199254740992.0)
        nd = int_digits(v, digits, &exp10);
    else
        nd = shortest_digits(v, digits, &exp10);
    o = js_layout(o, digits, nd, exp10);
    *o = 0;
    return (size_t)(o - out);
}
