// Explicit 8-lane Float helpers for the fused layer norm. The baseline x86-64 target does not
// vectorise strict-order reductions; these do, with a fixed lane order so results are the same
// on every run and thread count. (exp, max and the softmax rows live in CKernels.)

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
