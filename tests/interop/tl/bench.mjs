#!/usr/bin/env node
// Speed reference for the C TL codec benchmark: one messages.messages object of about 28 KB
// (100 messages with entities, 20 users, 5 chats/channels), decoded and encoded by mtcute.
//
//   node bench.mjs [--out FILE] [--json FILE] [--layer 228|227] [--seconds S]
//
// --out writes the hex of the encoded object (the C benchmark decodes these very bytes),
// --json its canonical JSON. Prints one JSON line:
//   {"bytes":N,"decode_per_s":X,"encode_per_s":Y,"peer":"@mtcute/core 0.31.0"}
import fs from 'node:fs'
import Long from 'long'
import { loadLayer, makeCanon, toHex } from './oracle.mjs'

const opts = { out: null, json: null, layer: 228, seconds: 1 }
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    const v = argv[i + 1]
    if (v === undefined) {
        process.stderr.write(`bench.mjs: ${k} needs a value\n`)
        process.exit(2)
    }
    if (k === '--out') opts.out = v
    else if (k === '--json') opts.json = v
    else if (k === '--layer') opts.layer = Number(v)
    else if (k === '--seconds') opts.seconds = Number(v)
    else {
        process.stderr.write(`bench.mjs: unknown argument ${k}\nusage: node bench.mjs [--out FILE] [--json FILE] [--layer 228|227] [--seconds S]\n`)
        process.exit(2)
    }
    i++
}

// deterministic content (a small LCG; the object must be the same on every run)
let seed = 0x2545f491
const rnd = (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return (seed >>> 8) % n
}
const WORDS = ['the', 'message', 'telegram', 'hello', 'world', 'meeting', 'tomorrow', 'at', 'noon', 'see', 'link',
    'photo', 'привет', 'дела', 'café', '日本', '👍', 'ok', 'thanks', 'channel', 'update', 'release']
function sentence(minChars, maxChars) {
    const target = minChars + rnd(maxChars - minChars + 1)
    let s = ''
    while (s.length < target) s += (s ? ' ' : '') + WORDS[rnd(WORDS.length)]
    return s
}

const SELF_ID = 777000123
const userIds = Array.from({ length: 20 }, (_, i) => 100000000 + i * 7919 + rnd(1000))
const chatIds = [4001234567, 4007654321]
const channelIds = [1234567890123, 1987654321012, 1555555555555]

function makeMessage(i) {
    const text = sentence(80, 140)
    const entities = []
    const nEnt = 2 + rnd(4)
    const kinds = ['messageEntityBold', 'messageEntityUrl', 'messageEntityMention', 'messageEntityTextUrl']
    for (let k = 0; k < nEnt; k++) {
        const _ = kinds[rnd(kinds.length)]
        const e = { _, offset: rnd(80), length: 1 + rnd(20) }
        if (_ === 'messageEntityTextUrl') e.url = `https://example.org/p/${rnd(100000)}`
        entities.push(e)
    }
    const inChannel = i % 4 === 3
    const msg = {
        _: 'message',
        out: i % 3 === 0,
        id: 50000 + i,
        fromId: { _: 'peerUser', userId: userIds[rnd(userIds.length)] },
        peerId: inChannel ? { _: 'peerChannel', channelId: channelIds[rnd(channelIds.length)] } : { _: 'peerUser', userId: SELF_ID },
        date: 1735000000 + i * 37,
        message: text,
        entities,
    }
    if (i % 5 === 1) msg.replyTo = { _: 'messageReplyHeader', replyToMsgId: 50000 + i - 1 - rnd(3) }
    if (inChannel) {
        msg.views = 1000 + rnd(50000)
        msg.forwards = rnd(100)
    }
    if (i % 7 === 2) msg.editDate = msg.date + 60 + rnd(600)
    return msg
}

function makeUser(i) {
    const first = ['Alice', 'Bob', 'Carol', 'Дмитрий', 'Eve', 'François', 'Grace', '健太', 'Ivan', 'Judy'][i % 10]
    const user = {
        _: 'user',
        contact: i % 2 === 0,
        mutualContact: i % 4 === 0,
        premium: i % 5 === 0,
        id: userIds[i],
        accessHash: Long.fromBits(rnd(0x7fffffff) | 0, rnd(0x7fffffff) | 0),
        firstName: first,
        lastName: `Lastname${i}`,
        username: `user_${first.length}_${i}_${rnd(10000)}`,
        phone: `1555${String(1000000 + i * 1013).slice(0, 7)}`,
        photo: {
            _: 'userProfilePhoto',
            hasVideo: i % 6 === 0,
            photoId: Long.fromBits(rnd(0x7fffffff) | 0, 0x12345 + i),
            strippedThumb: new Uint8Array(Array.from({ length: 24 + rnd(20) }, () => rnd(256))),
            dcId: 1 + (i % 5),
        },
        status: i % 3 === 0
            ? { _: 'userStatusOnline', expires: 1735010000 + i }
            : { _: 'userStatusOffline', wasOnline: 1734990000 - i * 60 },
        langCode: 'en',
    }
    if (i % 8 === 7) {
        user.bot = true
        user.botInfoVersion = 3
        user.botInlinePlaceholder = 'Search…'
    }
    return user
}

function makeChats() {
    const photo = (k) => ({ _: 'chatPhoto', photoId: Long.fromBits(0x5555 + k, 0x777), dcId: 2, strippedThumb: new Uint8Array([1, 40, 40, k, 9, 8, 7]) })
    return [
        { _: 'chat', id: chatIds[0], title: 'Family chat', photo: photo(1), participantsCount: 5, date: 1700000000, version: 3 },
        { _: 'chat', creator: true, id: chatIds[1], title: 'Project Ω', photo: { _: 'chatPhotoEmpty' }, participantsCount: 12, date: 1700000500, version: 7 },
        ...channelIds.map((id, k) => ({
            _: 'channel',
            broadcast: k === 0,
            megagroup: k !== 0,
            id,
            accessHash: Long.fromBits(0x1000 + k, 0x2000 + k),
            title: ['News channel', 'Developers', 'Разработчики'][k],
            username: ['newsch', 'devs_group', 'razrab'][k],
            photo: photo(10 + k),
            date: 1690000000 + k,
            participantsCount: 1000 * (k + 1),
        })),
    ]
}

const L = await loadLayer(opts.layer)
const { TlBinaryReader, TlBinaryWriter } = await import(`${L.pkg}/utils.js`)
const obj = {
    _: 'messages.messages',
    messages: Array.from({ length: 100 }, (_, i) => makeMessage(i)),
    topics: [],
    chats: makeChats(),
    users: Array.from({ length: 20 }, (_, i) => makeUser(i)),
}

const bytes = TlBinaryWriter.serializeObject(L.W, obj)
const back = TlBinaryReader.deserializeObject(L.R, bytes)
const again = TlBinaryWriter.serializeObject(L.W, back)
if (again.length !== bytes.length || !again.every((x, i) => x === bytes[i])) {
    throw new Error('mtcute does not round-trip the benchmark object')
}
if (opts.out) fs.writeFileSync(opts.out, toHex(bytes) + '\n')
if (opts.json) fs.writeFileSync(opts.json, makeCanon(L)(back) + '\n')

function measure(fn) {
    // warm up (JIT) for a fifth of the time, then count whole iterations for opts.seconds
    const run = (ns) => {
        const t0 = process.hrtime.bigint()
        let n = 0
        let t
        do {
            for (let k = 0; k < 16; k++) fn()
            n += 16
            t = process.hrtime.bigint() - t0
        } while (t < ns)
        return n / (Number(t) / 1e9)
    }
    run(BigInt(Math.round(opts.seconds * 2e8)))
    return run(BigInt(Math.round(opts.seconds * 1e9)))
}
let sink = 0
const decodePerS = measure(() => { sink += TlBinaryReader.deserializeObject(L.R, bytes).messages.length })
const encodePerS = measure(() => { sink += TlBinaryWriter.serializeObject(L.W, back).length })
if (sink === 0) process.stderr.write('unreachable\n')

process.stdout.write(JSON.stringify({
    bytes: bytes.length,
    decode_per_s: Math.round(decodePerS),
    encode_per_s: Math.round(encodePerS),
    peer: `@mtcute/core ${L.version}`,
}) + '\n')
