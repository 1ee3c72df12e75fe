// Loads one pinned copy of @mtcute/core (the TL oracle) together with its schema JSON,
// and provides the schema tables, a schema-driven method reader/writer built on mtcute's
// TlBinaryReader/TlBinaryWriter primitives, and the canonical JSON emitter that the
// C side's TL codec reproduces.
import { createRequire } from 'node:module'
import fs from 'node:fs'
import path from 'node:path'
import Long from 'long'

const require = createRequire(import.meta.url)

export const LAYERS = {
    228: { pkg: '@mtcute/core', version: '0.31.0' },
    227: { pkg: 'mtcute-core-227', version: '0.30.3' },
}

export const ID_BOOL_FALSE = 0xbc799737
export const ID_BOOL_TRUE = 0x997275b5
export const ID_NULL = 0x56730bcc

const PRIMITIVES = new Set(['int', 'long', 'int53', 'double', 'string', 'bytes', 'int128', 'int256', 'Bool', 'true', '#', '!X'])

// mtcute's field naming: snake_case argument names become camelCase properties
export function camel(name) {
    return name.replace(/_([a-zA-Z0-9])/g, (_, c) => c.toUpperCase())
}

function readJson(pkg, file) {
    // package.json is not in the packages' "exports"; find it next to the exported schema
    const p = file === 'package.json'
        ? path.join(path.dirname(require.resolve(`${pkg}/tl/api-schema.json`)), '..', 'package.json')
        : require.resolve(`${pkg}/${file}`)
    return JSON.parse(fs.readFileSync(p, 'utf8'))
}

// Prepares one argument descriptor of the schema JSON.
function prepArg(a) {
    const tm = a.typeModifiers || {}
    const arg = {
        name: a.name,
        prop: camel(a.name),
        type: a.type,
        isVector: !!(tm.isVector || tm.isBareVector),
        isBareVector: !!tm.isBareVector,
        isBareType: !!tm.isBareType,
        flagField: null,
        bit: -1,
    }
    if (tm.predicate) {
        const m = /^([a-zA-Z0-9_]+)\.(\d+)$/.exec(tm.predicate)
        if (!m) throw new Error(`bad predicate ${tm.predicate}`)
        arg.flagField = m[1]
        arg.bit = Number(m[2])
    }
    return arg
}

function prepEntry(e, isMtproto) {
    const args = e.arguments.map(prepArg)
    return {
        name: e.name,                                  // mtcute's name (mt_ prefix for service objects)
        tlName: isMtproto ? e.name.replace(/^mt_/, '') : e.name, // name as in the .tl file
        id: e.id >>> 0,
        type: e.type,
        kind: e.kind,
        isMtproto,
        args,
        argByProp: new Map(args.map(a => [a.prop, a])),
    }
}

export async function loadLayer(layer, { mtproto = false } = {}) {
    const info = LAYERS[layer]
    if (!info) throw new Error(`unknown layer ${layer} (use 228 or 227)`)
    const pkgJson = readJson(info.pkg, 'package.json')
    if (pkgJson.version !== info.version) {
        throw new Error(`${info.pkg} is ${pkgJson.version}, expected ${info.version} (run install.sh)`)
    }
    const utils = await import(`${info.pkg}/utils.js`)
    const schema = readJson(info.pkg, 'tl/api-schema.json')
    if (schema.l !== layer) throw new Error(`${info.pkg} schema says layer ${schema.l}, expected ${layer}`)

    const entries = schema.e.filter(e => !e.name.startsWith('mtcute.')).map(e => prepEntry(e, false))
    let mtpEntries = []
    if (mtproto) {
        mtpEntries = readJson(info.pkg, 'tl/mtp-schema.json').map(e => prepEntry(e, true))
    }
    const all = [...entries, ...mtpEntries]
    const byName = new Map(all.map(e => [e.name, e]))
    const methodsById = new Map()
    const typeCtors = new Map()
    for (const e of all) {
        if (e.kind === 'method') {
            methodsById.set(e.id, e)
        } else {
            if (!typeCtors.has(e.type)) typeCtors.set(e.type, [])
            typeCtors.get(e.type).push(e)
        }
    }
    for (const e of all) {
        for (const a of e.args) {
            if (a.isBareType) continue
            if (!PRIMITIVES.has(a.type) && !typeCtors.has(a.type)) {
                throw new Error(`${e.name}.${a.name}: type ${a.type} has no constructors`)
            }
        }
    }
    return {
        layer,
        pkg: info.pkg,
        version: pkgJson.version,
        R: utils.__tlReaderMap,
        W: utils.__tlWriterMap,
        TlBinaryReader: utils.TlBinaryReader,
        TlBinaryWriter: utils.TlBinaryWriter,
        entries,
        mtpEntries,
        byName,
        methodsById,
        typeCtors,
    }
}

// ---- schema-driven reader for methods (mtcute has generated readers for constructors only) ----

export function makeMethodCodec(L) {
    function readValue(r, a) {
        const one = () => readScalar(r, a)
        if (a.isVector) return r.vector(one, a.isBareVector)
        return one()
    }
    function readScalar(r, a) {
        switch (a.type) {
            case 'int': return r.int()
            case 'long': return r.long()
            case 'int53': return r.int53()
            case 'double': return r.double()
            case 'string': return r.string()
            case 'bytes': return r.bytes()
            case 'int128': return r.int128()
            case 'int256': return r.int256()
            case 'Bool': return r.boolean()
            case '!X': return readAny(r)
            default:
                if (a.isBareType) throw new Error(`bare type ${a.type} in a method is not supported`)
                return r.object()
        }
    }
    function readFields(r, e) {
        const obj = { _: e.name }
        const flags = {}
        for (const a of e.args) {
            if (a.type === '#') {
                flags[a.name] = r.uint()
                continue
            }
            if (a.flagField !== null) {
                const set = (flags[a.flagField] >>> a.bit) & 1
                if (a.type === 'true') obj[a.prop] = !!set
                else if (set) obj[a.prop] = readValue(r, a)
                continue
            }
            obj[a.prop] = readValue(r, a)
        }
        return obj
    }
    // reads a boxed method, or (for !X arguments) anything else boxed via mtcute's reader map
    function readAny(r) {
        const id = r.uint()
        const m = L.methodsById.get(id)
        if (m) return readFields(r, m)
        return r.object(id)
    }

    function writeValue(w, a, v) {
        if (a.isVector) {
            w.vector((x) => writeScalar(w, a, x), v, a.isBareVector)
        } else {
            writeScalar(w, a, v)
        }
    }
    function writeScalar(w, a, v) {
        switch (a.type) {
            case 'int': return w.int(v)
            case 'long': return w.long(v)
            case 'int53': return w.int53(v)
            case 'double': return w.double(v)
            case 'string': return w.string(v)
            case 'bytes': return w.bytes(v)
            case 'int128': return w.int128(v)
            case 'int256': return w.int256(v)
            case 'Bool': return w.boolean(v)
            case '!X': return writeAny(w, v)
            default: return w.object(v)
        }
    }
    function writeAny(w, obj) {
        const e = L.byName.get(obj._)
        if (e && e.kind === 'method') return writeFields(w, e, obj)
        return w.object(obj)
    }
    function writeFields(w, e, obj) {
        w.uint(e.id)
        const flags = computeFlags(e, obj)
        for (const a of e.args) {
            if (a.type === '#') {
                w.uint(flags[a.name])
                continue
            }
            if (a.flagField !== null) {
                if (a.type !== 'true' && obj[a.prop] !== undefined) writeValue(w, a, obj[a.prop])
                continue
            }
            writeValue(w, a, obj[a.prop])
        }
    }
    return { readAny, writeAny }
}

// The flag words as mtcute's writer computes them (a bit is set when a field using it is
// present; a `true` field counts when === true). For bytes written by mtcute this is exactly
// what is on the wire; gen.mjs additionally checks that the bytes re-encode identically.
export function computeFlags(e, obj) {
    const flags = {}
    for (const a of e.args) if (a.type === '#') flags[a.name] = 0
    for (const a of e.args) {
        if (a.flagField === null) continue
        const v = obj[a.prop]
        const present = a.type === 'true' ? v === true : v !== undefined
        if (present) flags[a.flagField] = (flags[a.flagField] | (1 << a.bit)) >>> 0
    }
    return flags
}

// ---- canonical JSON ----

const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true })
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
export function toHex(u8) {
    let s = ''
    for (let i = 0; i < u8.length; i++) s += HEX[u8[i]]
    return s
}

export function makeCanon(L, { typeOverrides = null } = {}) {
    function scalar(a, v, path) {
        switch (a.type) {
            case 'int':
                if (!Number.isInteger(v)) throw new Error(`${path}: int is ${v}`)
                return String(v)
            case 'long':
                if (!Long.isLong(v)) throw new Error(`${path}: long is not a Long`)
                return '"' + v.toString() + '"'
            case 'int53':
                if (!Number.isSafeInteger(v)) throw new Error(`${path}: int53 is ${v}`)
                return '"' + String(v) + '"'
            case 'double':
                if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${path}: double is ${v}`)
                return JSON.stringify(v)
            case 'string':
                if (typeof v !== 'string') throw new Error(`${path}: string is ${typeof v}`)
                return JSON.stringify(v)
            case 'bytes': case 'int128': case 'int256':
                if (!(v instanceof Uint8Array)) throw new Error(`${path}: ${a.type} is not bytes`)
                return '"' + toHex(v) + '"'
            case 'Bool':
                if (typeof v !== 'boolean') throw new Error(`${path}: Bool is ${v}`)
                return v ? 'true' : 'false'
            case '!X':
            default:
                return object(v, path)
        }
    }
    function value(a, v, path) {
        if (a.isVector) {
            if (!Array.isArray(v)) throw new Error(`${path}: expected an array`)
            return '[' + v.map((x, i) => scalar(a, x, `${path}[${i}]`)).join(',') + ']'
        }
        return scalar(a, v, path)
    }
    function object(obj, path = '') {
        if (obj === true) return '{"_":"boolTrue"}'
        if (obj === false) return '{"_":"boolFalse"}'
        if (obj === null) return '{"_":"null"}'
        if (typeof obj !== 'object' || typeof obj._ !== 'string') throw new Error(`${path}: not a TL object`)
        const e = L.byName.get(obj._)
        if (!e) throw new Error(`${path}: unknown object ${obj._}`)
        for (const k of Object.keys(obj)) {
            if (k !== '_' && !e.argByProp.has(k)) throw new Error(`${path}: ${obj._} has unexpected property ${k}`)
        }
        const flags = computeFlags(e, obj)
        const ovr = typeOverrides && typeOverrides.get(e.tlName)
        let out = '{"_":' + JSON.stringify(e.tlName)
        for (const a of e.args) {
            const key = ',' + JSON.stringify(a.name) + ':'
            if (a.type === '#') {
                out += key + String(flags[a.name])
                continue
            }
            const v = obj[a.prop]
            if (a.flagField !== null) {
                if (a.type === 'true') {
                    if (v === true) out += key + 'true'
                    else if (v !== false && v !== undefined) throw new Error(`${path}.${a.name}: true-flag is ${v}`)
                    continue
                }
                if (v === undefined) continue
            } else if (v === undefined) {
                throw new Error(`${path}: ${obj._}.${a.name} is missing`)
            }
            if (ovr && ovr.get(a.name) === 'string' && a.type === 'bytes' && !a.isVector) {
                // the repo's mtproto.tl spells some of mtcute's `bytes` fields as `string`
                out += key + JSON.stringify(UTF8.decode(v))
            } else {
                out += key + value(a, v, `${path}.${a.name}`)
            }
        }
        return out + '}'
    }
    return object
}
