// Explicit 8-lane Float helpers for the fused row kernels. The baseline x86-64 target does not
// vectorise libm calls or strict-order reductions; these do, with a fixed lane order so
// results are the same on every run and thread count.

typealias Float8 = SIMD8<Float>

@inline(__always) func load8(_ p: UnsafePointer<Float>, _ i: Int) -> Float8 {
    UnsafeRawPointer(p + i).loadUnaligned(as: Float8.self)
}

@inline(__always) func store8(_ p: UnsafeMutablePointer<Float>, _ i: Int, _ v: Float8) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Float8.self)
}

/// Σ x[0..<n], as 16 lanes summed in a fixed order, then the tail.
@inline(__always) func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a = Float8(), b = Float8()
    var i = 0
    while i &+ 16 <= n {
        a += load8(x, i)
        b += load8(x, i &+ 8)
        i &+= 16
    }
    let c = a + b
    var total = ((c[0] + c[1]) + (c[2] + c[3])) + ((c[4] + c[5]) + (c[6] + c[7]))
    while i < n { total += x[i]; i &+= 1 }
    return total
}

/// max(x[0..<n]) (−∞ for n = 0). Eight independent running maxima: the generic SIMD
/// `pointwiseMax` is not inlined on Linux and costs a call per vector.
@inline(__always) func maximum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0
    var i = 0
    while i &+ 8 <= n {
        m0 = x[i] > m0 ? x[i] : m0
        m1 = x[i &+ 1] > m1 ? x[i &+ 1] : m1
        m2 = x[i &+ 2] > m2 ? x[i &+ 2] : m2
        m3 = x[i &+ 3] > m3 ? x[i &+ 3] : m3
        m4 = x[i &+ 4] > m4 ? x[i &+ 4] : m4
        m5 = x[i &+ 5] > m5 ? x[i &+ 5] : m5
        m6 = x[i &+ 6] > m6 ? x[i &+ 6] : m6
        m7 = x[i &+ 7] > m7 ? x[i &+ 7] : m7
        i &+= 8
    }
    var result = Swift.max(Swift.max(Swift.max(m0, m1), Swift.max(m2, m3)), Swift.max(Swift.max(m4, m5), Swift.max(m6, m7)))
    while i < n { result = x[i] > result ? x[i] : result; i &+= 1 }
    return result
}

/// eˣ in Float: Cephes' expf reduction x = n·ln2 + r with its degree-6 polynomial (relative
/// error about 2e-7); n is read from the bits of the 1.5·2²³ rounding trick and 2ⁿ is built in
/// the exponent bits. Branch-free and trap-free, so loops over it auto-vectorise. Inputs below
/// −87.3 (and −∞) give 0; inputs above 88.7 saturate.
@inline(__always) func fastExp(_ x: Float) -> Float {
    let clamped = Swift.min(Swift.max(x, -87.336_544), 88.722_83)
    let magic: Float = 12_582_912  // 1.5·2²³: adding it rounds to an integer held in the low bits
    let shifted = clamped * 1.442_695_04 + magic
    let n = shifted - magic
    var r = clamped - n * 0.693_359_375
    r = r - n * -2.121_944_4e-4
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let e = p * (r * r) + r + 1
    let integer = shifted.bitPattern &- magic.bitPattern  // n as a two's-complement integer
    let scale = Float(bitPattern: (integer &+ 127) &<< 23)
    return x < -87.336_544 ? 0 : e * scale
}
