/*
 * libmtproto — number formatting for the TL JSON writer and the printer: the shortest
 * decimal that round-trips a double, laid out as JavaScript prints it.
 */
#include "tl/json_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Shortest decimal that round-trips, laid out as JavaScript's Number::toString does.
 * Returns the length, or 0 for NaN / Infinity (JSON null). */
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
    int nd = 0, exp10 = 0;
    if (v < 1e21 && v == floor(v) && v < 9007199254740992.0) {
        /* an exact integer: its decimal digits are the shortest form */
        unsigned long long u = (unsigned long long)v;
        char tmp[24];
        int k = 0;
        while (u) {
            tmp[k++] = (char)('0' + u % 10);
            u /= 10;
        }
        for (int i = 0; i < k; i++)
            digits[i] = tmp[k - 1 - i];
        nd = k;
        exp10 = k - 1;
    } else {
        char buf[48];
        bool found = false;
        for (int prec = 1; prec <= 17 && !found; prec++) {
            snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
            /* split "d.ddde[+-]xx" */
            int k = 0;
            const char *s = buf;
            for (; *s && *s != 'e'; s++)
                if (*s >= '0' && *s <= '9')
                    digits[k++] = *s;
            int e = atoi(s + 1);
            if (strtod(buf, NULL) == v) {
                nd = k;
                exp10 = e;
                found = true;
                break;
            }
            /* The correctly rounded prec-digit value misses; a neighbour one unit in the
             * last place away may still round-trip (asymmetric intervals at powers of 2). */
            for (int dir = -1; dir <= 1 && !found; dir += 2) {
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
                        continue;
                    d2[i]--;
                    if (d2[0] == '0') {
                        if (k2 == 1)
                            continue;
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
                if (strtod(b2, NULL) == v) {
                    memcpy(digits, d2, (size_t)k2);
                    nd = k2;
                    exp10 = e2;
                    found = true;
                }
            }
        }
        if (!found) { /* cannot happen: 17 digits always round-trip */
            snprintf(buf, sizeof buf, "%.16e", v);
            int k = 0;
            const char *s = buf;
            for (; *s && *s != 'e'; s++)
                if (*s >= '0' && *s <= '9')
                    digits[k++] = *s;
            nd = k;
            exp10 = atoi(s + 1);
        }
        while (nd > 1 && digits[nd - 1] == '0')
            nd--;
    }
    /* JS layout: n = exp10 + 1 is the position of the decimal point */
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
    *o = 0;
    return (size_t)(o - out);
}
