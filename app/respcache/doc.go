// Package respcache is the gateway's response cache ("Gateway Caching"): a
// request identical to one answered before, in the same project, is answered
// from the cache without an upstream call, at zero usage and cost.
//
// The pieces:
//
//   - Key hashes a canonical encoding of the project and the neutral request.
//     Everything that can change the answer is in the key; transport-only fields
//     are not, so a streamed and a non-streamed request share one entry (see Key).
//   - Cacheable says whether a request may use the cache at all; Storable
//     whether a response may be kept.
//   - Store is where entries live: NewMemory (one instance, LRU bounded in
//     bytes, per-entry TTL) or NewRedis (shared by every instance).
//   - An entry is the complete non-streaming ChatResponse plus the time it was
//     stored. A streamed miss is rebuilt with an Accumulator before storing; a
//     streamed hit is replayed as chunks with Replay.
//   - Cache ties them together: Lookup, Put, and Do, which coalesces
//     concurrent identical misses of one instance into one upstream call.
//
// The cache never fails a request: a store that errors or times out is a miss
// (counted in Stats), a write that cannot be made is dropped (counted).
package respcache
