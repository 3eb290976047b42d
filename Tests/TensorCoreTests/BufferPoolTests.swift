import Testing
@testable import TensorCore

@Suite("Large-buffer pool")
struct BufferPoolTests {
    @Test("buffers of every size path come back zeroed when asked, hold their contents, and keep the size the pool recorded")
    func reuseIsClean() {
        // 2 MiB filled and freed, then the same size (a hit), a size 1.5× larger (a grown buffer)
        // and a smaller one served by a larger pooled buffer: each new tensor of zeros is zero.
        for elements in [1 << 19, 3 << 18, 1 << 19, 5 << 16, 1 << 21] {
            do {
                let filled = Tensor.full(7, shape: [elements])
                #expect(filled.doubles.allSatisfy { $0 == 7 })
            }
            let fresh = Tensor.zeros([elements])
            #expect(fresh.doubles.allSatisfy { $0 == 0 }, "\(elements) elements")
        }
        #expect(BufferPool.length(for: (1 << 20) + 1) == (1 << 20) + (1 << 17))  // 8 size classes per power of two
        #expect(BufferPool.length(for: 1 << 20) == 1 << 20)
    }
}
