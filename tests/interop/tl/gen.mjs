#!/usr/bin/env node
// Differential-test corpus generator: random TL objects for every constructor and method of
// a layer, encoded by mtcute and decoded back by mtcute.
//
//   node gen.mjs --layer 228|227 --count N --seed S [--out FILE] [--mtproto]
//
// Each output line is `<hex of the boxed encoding written by mtcute>\t<canonical JSON of what
// mtcute decodes from those bytes>`. See README.md for the JSON format.
import fs from 'node:fs'
import Long from 'long'
import { loadLayer, makeMethodCodec, makeCanon, toHex, ID_BOOL_FALSE, ID_BOOL_TRUE, ID_NULL } from './oracle.mjs'

// ---------------- command line ----------------
function parseArgs(argv) {
    const o = { layer: 228, count: 1000, seed: '1', out: null, mtproto: false, maxDepth: 3 }
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i]
        const next = () => {
            if (i + 1 >= argv.length) usage(`${k} needs a value`)
            return argv[++i]
        }
        if (k === '--layer') o.layer = Number(next())
        else if (k === '--count') o.count = Number(next())
        else if (k === '--seed') o.seed = next()
        else if (k === '--out') o.out = next()
        else if (k === '--mtproto') o.mtproto = true
        else if (k === '--max-depth') o.maxDepth = Number(next())
        else if (k === '-h' || k === '--help') usage()
        else usage(`unknown argument ${k}`)
    }
    if (!Number.isInteger(o.count) || o.count < 0) usage('bad --count')
    return o
}
function usage(msg) {
    if (msg) process.stderr.write(`gen.mjs: ${msg}\n`)
    process.stderr.write('usage: node gen.mjs --layer 228|227 --count N --seed S [--out FILE] [--mtproto] [--max-depth D]\n')
    process.exit(msg ? 2 : 0)
}

// ---------------- deterministic PRNG (sfc32 seeded through splitmix32) ----------------
function makeRng(seedText) {
    let h = 0x811c9dc5
    for (const ch of String(seedText)) h = Math.imul(h ^ ch.codePointAt(0), 0x01000193) >>> 0
    const sm = () => {
        h = (h + 0x9e3779b9) >>> 0
        let z = h
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
        return (z ^ (z >>> 16)) >>> 0
    }
    let a = sm(), b = sm(), c = sm(), d = sm()
    const u32 = () => {
        const t = (((a + b) >>> 0) + d) >>> 0
        d = (d + 1) >>> 0
        a = b ^ (b >>> 9)
        b = (c + (c << 3)) >>> 0
        c = ((c << 21) | (c >>> 11)) >>> 0
        c = (c + t) >>> 0
        return t
    }
    for (let i = 0; i < 16; i++) u32()
    const rng = {
        u32,
        float: () => u32() / 4294967296,
        int: (n) => Math.floor((u32() / 4294967296) * n), // 0 <= x < n
        range: (lo, hi) => lo + Math.floor((u32() / 4294967296) * (hi - lo + 1)), // inclusive
        chance: (p) => u32() / 4294967296 < p,
        pick: (arr) => arr[Math.floor((u32() / 4294967296) * arr.length)],
    }
    return rng
}

// ---------------- random values ----------------
const ASCII = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.,:;!?()[]{}<>=+*&%$#@~^|`\''
const SPECIAL = [
    '"', '\\', '/', '\n', '\t', '\r', '\b', '\f', '\u0000', '\u0001', '\u001f', '\u007f', '\u0080',
    'é', 'ß', 'ж', 'Привет', 'ü', '日本語', '中文', '한국어', 'עברית', 'العربية', '€', '£', '\u00a0',
    '\u2028', '\u2029', '\ufeff', '\ufffd', '\u200d', 'e\u0301', '😀', '👍🏽', '🇺🇦', '👨‍👩‍👧', '𝄞', '🦄',
    'Telegram', '@username', 'https://t.me/joinchat/x', '#hashtag', '<b>bold</b>',
]
const UTF8 = new TextEncoder()

function makeValues(rng) {
    // mtcute decodes strings with a TextDecoder that drops a leading U+FEFF (BOM), so a string
    // never starts with one here (U+FEFF elsewhere in a string is kept)
    function str() {
        const s = str0()
        return s.startsWith('\ufeff') ? 'x' + s : s
    }
    function str0() {
        const mode = rng.int(100)
        if (mode < 8) return ''
        if (mode < 90) {
            const n = rng.range(1, mode < 70 ? 16 : 80)
            let s = ''
            for (let i = 0; i < n; i++) s += rng.chance(0.2) ? rng.pick(SPECIAL) : ASCII[rng.int(ASCII.length)]
            return s
        }
        // long strings: at least 254 UTF-8 bytes, i.e. the 4-byte length prefix
        const target = rng.pick([254, 255, 256, 257, rng.range(258, 1200)])
        let s = ''
        while (UTF8.encode(s).length < target) {
            s += rng.chance(0.15) ? rng.pick(SPECIAL) : ASCII[rng.int(ASCII.length)]
        }
        return s
    }
    function bytes() {
        const mode = rng.int(100)
        let n
        if (mode < 10) n = 0
        else if (mode < 70) n = rng.range(1, 20)
        else if (mode < 85) n = rng.pick([251, 252, 253, 254, 255, 256, 257, 258, rng.range(21, 250)])
        else n = rng.range(259, 2100)
        return randBytes(n)
    }
    function randBytes(n) {
        const u = new Uint8Array(n)
        for (let i = 0; i < n; i++) u[i] = rng.u32() & 0xff
        return u
    }
    function int() {
        switch (rng.int(10)) {
            case 0: return 0
            case 1: return 1
            case 2: return -1
            case 3: return rng.pick([2147483647, -2147483648, 2147483646, -2147483647, 255, 256, 65535, 65536])
            case 4: case 5: return rng.range(0, 1000)
            case 6: return rng.range(1500000000, 1800000000)
            case 7: return -rng.range(1, 100000)
            default: return rng.u32() | 0
        }
    }
    function long() {
        switch (rng.int(10)) {
            case 0: return Long.ZERO
            case 1: return Long.fromInt(rng.range(1, 100000))
            case 2: return Long.fromInt(-rng.range(1, 100000))
            case 3: return rng.pick([Long.MAX_VALUE, Long.MIN_VALUE, Long.NEG_ONE, Long.fromBits(0, 1), Long.fromBits(-1, 0),
                Long.fromBits(0, -1), Long.fromBits(1, -2147483648), Long.fromBits(-1, 2147483647)])
            case 4: return Long.fromNumber(rng.range(1, 2 ** 31) * 2 ** 21 + rng.range(0, 2 ** 21)) // up to ~2^52
            default: return Long.fromBits(rng.u32() | 0, rng.u32() | 0)
        }
    }
    // mtcute's int53 writer mis-encodes negative multiples of 2^32, so these stay non-negative
    function int53() {
        switch (rng.int(8)) {
            case 0: return 0
            case 1: case 2: return rng.range(1, 10000000)
            case 3: return rng.range(1000000000, 9999999999)
            case 4: return rng.pick([2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 52, 1000000000000])
            default: return rng.range(0, 2 ** 21 - 1) * 2 ** 32 + rng.u32()
        }
    }
    const DOUBLES = [0, 1, -1, 1.5, -0.25, 1e-7, 123456.789, 3.141592653589793, 2.718281828459045, 0.1, 0.2, 0.30000000000000004,
        1 / 3, 100, -42, 1e21, 1e20, 123e-20, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
        9007199254740993, 2 ** 53, 2 ** 63, 4294967296, 55.75, -122.4194, 37.7749, 1e100, 1.0000000000000002, 0.000001, 0.0000001]
    function double() {
        const m = rng.int(3)
        if (m === 0) return rng.pick(DOUBLES)
        if (m === 1) return (rng.chance(0.5) ? -1 : 1) * rng.range(0, 100000) / rng.pick([1, 2, 4, 8, 10, 100, 1000])
        let x = 0
        while (x === 0) x = (rng.float() * 2 - 1) * 10 ** rng.range(-12, 25)
        return x
    }
    return { str, bytes, randBytes, int, long, int53, double }
}

// ---------------- object generator ----------------
function makeGenerator(L, rng, opts) {
    const V = makeValues(rng)
    const maxDepth = opts.maxDepth

    // cost of the smallest object of each type, so that past the depth limit we always pick the
    // constructor (and, for !X, the method) that adds the fewest nested objects
    const typeCost = new Map()
    const entryCost = (e) => {
        let c = 1
        for (const a of e.args) {
            if (a.flagField !== null || a.isVector) continue
            if (a.type === '!X') c += 1000
            else if (L.typeCtors.has(a.type)) c += typeCost.get(a.type) ?? Infinity
        }
        return c + e.args.length / 100
    }
    for (let changed = true; changed;) {
        changed = false
        for (const [t, ctors] of L.typeCtors) {
            const c = Math.min(...ctors.map(entryCost))
            if (c < (typeCost.get(t) ?? Infinity)) {
                typeCost.set(t, c)
                changed = true
            }
        }
    }
    const simplest = new Map()
    for (const [t, ctors] of L.typeCtors) {
        let best = null
        for (const e of ctors) if (!best || entryCost(e) < entryCost(best)) best = e
        if (!Number.isFinite(entryCost(best))) throw new Error(`type ${t} has no finite constructor`)
        simplest.set(t, best)
    }
    const methods = L.entries.filter(e => e.kind === 'method')
    const simplestMethods = methods.filter(e => e.args.length === 0)

    function object(type, depth) {
        const e = depth > maxDepth ? simplest.get(type) : rng.pick(L.typeCtors.get(type))
        return fields(e, depth)
    }
    function anyMethod(depth) {
        return fields(depth > maxDepth ? rng.pick(simplestMethods) : rng.pick(methods), depth)
    }
    function fields(e, depth) {
        const o = { _: e.name }
        // fields sharing a flag bit are present or absent together (mtcute needs that)
        const groups = new Map()
        for (const a of e.args) {
            if (a.flagField === null) continue
            const key = a.flagField + '.' + a.bit
            if (!groups.has(key)) groups.set(key, depth <= maxDepth && rng.chance(0.5))
        }
        const ovr = opts.typeOverrides && opts.typeOverrides.get(e.tlName)
        for (const a of e.args) {
            if (a.type === '#') continue
            if (a.flagField !== null) {
                const present = groups.get(a.flagField + '.' + a.bit)
                if (a.type === 'true') o[a.prop] = present
                else if (present) o[a.prop] = value(e, a, depth, true, ovr)
                continue
            }
            o[a.prop] = value(e, a, depth, false, ovr)
        }
        return o
    }
    function value(e, a, depth, optional, ovr) {
        if (!a.isVector) return scalar(a, depth, ovr)
        let n = depth > maxDepth ? 0 : rng.int(5)
        // mtcute writes an empty optional vector as absent: keep optional vectors non-empty
        if (optional && n === 0) n = rng.range(1, 4)
        // mtcute's future_salts writer crashes on a non-empty salts vector
        if (e.name === 'mt_future_salts') n = 0
        const arr = []
        for (let i = 0; i < n; i++) arr.push(scalar(a, depth, ovr))
        return arr
    }
    function scalar(a, depth, ovr) {
        switch (a.type) {
            case 'int': return V.int()
            case 'long': return V.long()
            case 'int53': return V.int53()
            case 'double': return V.double()
            case 'string': return V.str()
            case 'bytes':
                if (ovr && ovr.get(a.name) === 'string') return UTF8.encode(V.str())
                return V.bytes()
            case 'int128': return V.randBytes(16)
            case 'int256': return V.randBytes(32)
            case 'Bool': return rng.chance(0.5)
            case '!X': return anyMethod(depth + 1)
            default:
                if (a.isBareType) return fields(L.byName.get(a.type), depth + 1)
                return object(a.type, depth + 1)
        }
    }
    return { fields }
}

// ---------------- mtproto.tl type spellings (only for --mtproto) ----------------
function readRepoMtprotoTypes() {
    const file = new URL('../../../tl/mtproto.tl', import.meta.url)
    const map = new Map()
    if (!fs.existsSync(file)) return map
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        const m = /^([a-zA-Z0-9_.]+)#[0-9a-f]+\s+(.*?)\s*=/.exec(line.trim())
        if (!m) continue
        const args = new Map()
        for (const p of m[2].split(/\s+/)) {
            const i = p.indexOf(':')
            if (i > 0) args.set(p.slice(0, i), p.slice(i + 1))
        }
        map.set(m[1], args)
    }
    return map
}

// ---------------- main ----------------
async function main() {
    const opts = parseArgs(process.argv.slice(2))
    const t0 = process.hrtime.bigint()
    const L = await loadLayer(opts.layer, { mtproto: opts.mtproto })
    const typeOverrides = opts.mtproto ? readRepoMtprotoTypes() : null
    const rng = makeRng(`${opts.layer}/${opts.seed}`)
    const gen = makeGenerator(L, rng, { maxDepth: opts.maxDepth, typeOverrides })
    const codec = makeMethodCodec(L)
    const canon = makeCanon(L, { typeOverrides })
    const { TlBinaryReader, TlBinaryWriter, TlSerializationCounter } = await importRuntime(L)

    // the top-level cycle: every API constructor and method, the builtins that mtcute reads as
    // values (boolFalse, boolTrue, null), and with --mtproto mtcute's service schema
    const BUILTINS = [
        { builtin: true, name: 'boolFalse', id: ID_BOOL_FALSE, value: false },
        { builtin: true, name: 'boolTrue', id: ID_BOOL_TRUE, value: true },
        { builtin: true, name: 'null', id: ID_NULL, value: null },
    ]
    const cycle = [...L.entries, ...BUILTINS, ...L.mtpEntries]

    const encodeBuiltin = (v) => {
        const w = TlBinaryWriter.manual(4)
        if (v === null) w.null()
        else w.boolean(v)
        return w.result()
    }
    const encode = (obj) => {
        if (obj === null || typeof obj === 'boolean') return encodeBuiltin(obj)
        // not TlBinaryWriter.serializeObject: it returns the whole buffer sized by
        // TlSerializationCounter, which counts 8 header bytes for a bare vector too (4 too many)
        const w = TlBinaryWriter.alloc(L.W, TlSerializationCounter.countNeededBytes(L.W, obj))
        w.object(obj)
        return w.result()
    }
    const decode = (bytes) => {
        const r = new TlBinaryReader(L.R, bytes)
        const v = L.methodsById.has(r.peekUint()) ? codec.readAny(r) : r.object()
        if (r.pos !== bytes.length) throw new Error(`decoder stopped at ${r.pos} of ${bytes.length} bytes`)
        return v
    }
    const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i])

    const out = opts.out ? fs.openSync(opts.out, 'w') : 1
    let buf = []
    let bufLen = 0
    const flush = () => {
        if (buf.length) fs.writeSync(out, buf.join(''))
        buf = []
        bufLen = 0
    }
    const covered = new Set()
    const skipped = new Map()
    let written = 0
    for (let i = 0; i < opts.count; i++) {
        const entry = cycle[i % cycle.length]
        try {
            const obj = entry.builtin ? entry.value : gen.fields(entry, 0)
            const bytes = encode(obj)
            if (entry.kind === 'method') {
                // second opinion: the schema-driven writer on mtcute's primitives must agree
                // with mtcute's generated method writer
                const w = TlBinaryWriter.alloc(L.W, TlSerializationCounter.countNeededBytes(L.W, obj))
                codec.writeAny(w, obj)
                if (!sameBytes(w.result(), bytes)) throw new Error('schema-driven writer disagrees with mtcute')
            }
            const back = decode(bytes)
            const again = encode(back)
            if (!sameBytes(again, bytes)) throw new Error('decode+encode does not give the same bytes')
            const json = canon(back)
            // and what was decoded is what was generated
            if (!entry.builtin && canon(obj) !== json) throw new Error('decoded object differs from the generated one')
            const head = JSON.parse(json)._
            if (head !== (entry.builtin ? entry.name : entry.tlName)) throw new Error(`decoded as ${head}`)
            covered.add(head)
            const line = toHex(bytes) + '\t' + json + '\n'
            buf.push(line)
            bufLen += line.length
            if (bufLen > 1 << 22) flush()
            written++
        } catch (err) {
            const k = entry.name
            if (!skipped.has(k)) {
                skipped.set(k, 0)
                process.stderr.write(`gen.mjs: skipped ${k}: ${err && err.message}\n`)
            }
            skipped.set(k, skipped.get(k) + 1)
        }
    }
    flush()
    if (opts.out) fs.closeSync(out)
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    const nSkipped = [...skipped.values()].reduce((a, b) => a + b, 0)
    process.stderr.write(
        `gen.mjs: ${L.pkg} ${L.version} layer ${L.layer}: ${written} lines, ${nSkipped} skipped, ` +
        `${covered.size}/${Math.min(cycle.length, opts.count)} top-level names covered ` +
        `(${L.entries.filter(e => e.kind !== 'method').length} constructors + ` +
        `${L.entries.filter(e => e.kind === 'method').length} methods + ${BUILTINS.length} builtins` +
        `${opts.mtproto ? ` + ${L.mtpEntries.length} mtproto` : ''}), ${(ms / 1000).toFixed(1)} s\n`)
    if (nSkipped) process.exitCode = 1
}

async function importRuntime(L) {
    const u = await import(`${L.pkg}/utils.js`)
    return { TlBinaryReader: u.TlBinaryReader, TlBinaryWriter: u.TlBinaryWriter, TlSerializationCounter: u.TlSerializationCounter }
}

main().catch((err) => {
    process.stderr.write(`gen.mjs: ${err && err.stack || err}\n`)
    process.exit(1)
})
