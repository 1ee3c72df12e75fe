// Shared plumbing for the peer scripts: arguments, check lines, bounded waits, the RSA key.
//
// Every script prints only JSON lines on stdout (the libraries' own logging goes to stderr):
//   {"check":"<peer>/<transport>/<what>","ok":true|false,"detail":…}
// and, in bench mode, one line {"peer":"…","rpcs_per_s":X,…}.
import { createHash, createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'

// Libraries log with console.log; keep stdout for our JSON lines only.
const realWrite = process.stdout.write.bind(process.stdout)
console.log = console.error
console.info = console.error
console.debug = console.error
console.warn = console.error

export const DEBUG = !!process.env.MTP_PEERS_DEBUG

export function usage(script, extra = '') {
    return `usage: node ${script} READY_JSON|READY_FILE PUBKEY_PEM [--bench N] [--transport NAME[,NAME…]]` +
        ` [--inflight K] [--phone-dc X] [--timeout S]${extra}`
}

// argv: READY (the ready line itself, or a file holding it) PUBKEY_PEM, then options.
export function parseArgs(script, transportsKnown) {
    const a = process.argv.slice(2)
    const opt = { bench: 0, transports: null, inflight: 0, phoneDc: 0, timeout: 60, positional: [] }
    for (let i = 0; i < a.length; i++) {
        const need = () => {
            if (i + 1 >= a.length) die(`${a[i]} needs a value\n${usage(script)}`)
            return a[++i]
        }
        switch (a[i]) {
            case '--bench': opt.bench = Number(need()); break
            case '--transport': case '--transports': opt.transports = need().split(','); break
            case '--inflight': opt.inflight = Number(need()); break
            case '--phone-dc': opt.phoneDc = Number(need()); break
            case '--timeout': opt.timeout = Number(need()); break
            case '-h': case '--help': realWrite(usage(script) + '\n'); process.exit(0); break
            default:
                if (a[i].startsWith('--')) die(`unknown option ${a[i]}\n${usage(script)}`)
                opt.positional.push(a[i])
        }
    }
    if (opt.positional.length !== 2) die(usage(script))
    const [readyArg, pemPath] = opt.positional
    const readyText = readyArg.trim().startsWith('{') ? readyArg : readFileSync(readyArg, 'utf8')
    let ready
    try {
        ready = JSON.parse(readyText.trim().split('\n').find((l) => l.includes('"ready"')) ?? readyText)
    } catch (e) {
        die(`cannot parse the ready line: ${e.message}`)
    }
    if (ready.event !== 'ready' || !Array.isArray(ready.dcs) || !ready.dcs.length) die('not a ready line')
    opt.ready = ready
    opt.dcs = new Map(ready.dcs.map((d) => [Number(d.id), { id: Number(d.id), host: d.host, port: Number(d.port) }]))
    opt.pemPath = pemPath
    opt.pem = readFileSync(pemPath, 'utf8')
    if (opt.transports) {
        for (const t of opt.transports) if (!transportsKnown.includes(t)) die(`unknown transport ${t} (known: ${transportsKnown.join(', ')})`)
    } else {
        opt.transports = transportsKnown
    }
    return opt
}

export function die(msg) {
    process.stderr.write(msg + '\n')
    process.exit(2)
}

// ---- check lines ----
let failures = 0
export function check(name, ok, detail = null) {
    if (!ok) failures++
    realWrite(JSON.stringify({ check: name, ok: !!ok, detail }) + '\n')
    return !!ok
}
export function emit(obj) {
    realWrite(JSON.stringify(obj) + '\n')
}
export function failed() {
    return failures
}

// Run fn as one check: ok when it returns (its value is the detail), not ok when it throws.
// After a step of the same prefix (`peer/transport/`) timed out, the connection is likely
// wedged: the later steps of that prefix are reported as failed without running, so that one
// stuck transport does not eat the time of the others. The same after any failure of a
// `critical` step (the connect that all others need).
const timedOut = new Map()
export async function step(name, fn, { critical = false } = {}) {
    const prefix = name.slice(0, name.lastIndexOf('/') + 1)
    if (timedOut.has(prefix)) {
        check(name, false, { error: `not run: ${timedOut.get(prefix)} failed` })
        return false
    }
    const t0 = performance.now()
    try {
        const detail = await fn()
        check(name, true, detail ?? { ms: Math.round(performance.now() - t0) })
        return true
    } catch (e) {
        check(name, false, { error: errText(e), ms: Math.round(performance.now() - t0) })
        if (e instanceof TimeoutError || critical) timedOut.set(prefix, name.slice(prefix.length))
        if (DEBUG) console.error(e)
        return false
    }
}

export function errText(e) {
    if (e == null) return String(e)
    if (e.errorMessage) return `${e.code ?? ''} ${e.errorMessage}`.trim()
    if (e.text && e.code) return `${e.code} ${e.text}`
    return String(e.message ?? e)
}

// ---- bounded waits ----
export class TimeoutError extends Error {}

export function within(ms, promise, what) {
    let timer
    const t = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`timeout after ${ms} ms: ${what}`)), ms)
    })
    return Promise.race([Promise.resolve(promise), t]).finally(() => clearTimeout(timer))
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// The whole script (counted from the process start, module loading included) is bounded:
// past `seconds` print a failing check and exit 1.
export function watchdog(peer, seconds) {
    const t = setTimeout(() => {
        check(`${peer}/watchdog`, false, { error: `script exceeded ${seconds} s` })
        process.exit(1)
    }, Math.max(1000, seconds * 1000 - process.uptime() * 1000))
    t.unref()
}

// N calls of fn(i) with at most `inflight` outstanding; returns elapsed seconds.
export async function pool(n, inflight, fn) {
    let next = 0
    const t0 = performance.now()
    const worker = async () => {
        while (next < n) {
            const i = next++
            await fn(i)
        }
    }
    await Promise.all(Array.from({ length: Math.min(inflight, n) }, worker))
    return (performance.now() - t0) / 1000
}

// ---- the server's RSA key ----
function tlBytes(b) {
    const head = b.length < 254 ? Buffer.from([b.length])
        : Buffer.from([254, b.length & 255, (b.length >> 8) & 255, (b.length >> 16) & 255])
    const body = Buffer.concat([head, b])
    return Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)])
}
function stripZeros(b) {
    let i = 0
    while (i < b.length - 1 && b[i] === 0) i++
    return b.subarray(i)
}

// n and e (big-endian Buffers, BigInts) and the MTProto fingerprint (signed decimal string)
// of a PKCS#1 or SPKI public key PEM.
export function rsaKeyInfo(pem) {
    const jwk = createPublicKey(pem).export({ format: 'jwk' })
    const n = stripZeros(Buffer.from(jwk.n, 'base64url'))
    const e = stripZeros(Buffer.from(jwk.e, 'base64url'))
    const sha = createHash('sha1').update(Buffer.concat([tlBytes(n), tlBytes(e)])).digest()
    const fingerprint = sha.subarray(12, 20).readBigInt64LE(0).toString()
    return {
        n, e, fingerprint,
        nBig: BigInt('0x' + n.toString('hex')),
        eBig: BigInt('0x' + e.toString('hex')),
    }
}

// A login phone 99966XYYYY on DC `dc` (YYYY < 9000: an existing account).
export function phoneOn(dc, yyyy) {
    return `99966${dc}${String(yyyy).padStart(4, '0')}`
}

// The DC a phone should migrate to: the given one, else the highest DC other than `from`.
export function pickPhoneDc(opt, from, prefer) {
    if (opt.phoneDc) return opt.phoneDc
    const ids = [...opt.dcs.keys()].filter((d) => d !== from && d <= 9)
    if (!ids.length) return 0
    return ids.includes(prefer) ? prefer : ids[ids.length - 1]
}

export const API_ID = 20000
export const API_HASH = '0123456789abcdef0123456789abcdef'
