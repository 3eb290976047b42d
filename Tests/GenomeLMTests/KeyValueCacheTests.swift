// Cached generation: the prompt once, then one position per call over cached keys and values,
// against the uncached forward pass over the whole prefix.
import Testing
@testable import GenomeLM
import TensorCore

@Suite("KV-cache generation")
struct KeyValueCacheTests {
    @Test("cached logits equal the whole-prefix forward pass at every position (float64 1e-12, float32 1e-5), past the cache's first growth")
    func logits() {
        for dtype in [DType.float64, .float32] {
            let model = GPTNeoXForCausalLM(GPTNeoXTests.tiny, dtype: dtype, seed: 7)
            var generator = RandomGenerator(seed: 11)
            let ids = generator.uniform([1, 80], low: 5, high: 69, dtype: .float64).cast(to: .int64)
            let full = withNoGrad { model(ids) }.doubles
            let cache = KeyValueCache(layers: GPTNeoXTests.tiny.numHiddenLayers)
            // A prompt of 7, then 73 single tokens (the buffers grow from 64 to 128 positions).
            var cached = model.logits(appending: ids.sliced(axis: 1, 0, 7), cache: cache).doubles
            for position in 7..<80 { cached += model.logits(appending: ids.sliced(axis: 1, position, position + 1), cache: cache).doubles }
            #expect(cache.length == 80)
            let scale = full.map(abs).max()!
            let worst = zip(cached, full).map { abs($0 - $1) }.max()! / scale
            #expect(worst < (dtype == .float64 ? 1e-12 : 1e-5), "\(dtype): worst relative difference \(worst)")
        }
    }

    @Test("generate draws the same tokens with and without the cache, for several seeds")
    func sameTokens() {
        let model = GPTNeoXForCausalLM(GPTNeoXTests.tiny, seed: 3)
        for seed in [1, 2, 3, 4] as [UInt64] {
            var options = SamplingOptions()
            options.maxTokens = 60
            var cached = RandomGenerator(seed: seed), uncached = RandomGenerator(seed: seed)
            let withCache = model.generate(tokenizer: .standard, options: options, generator: &cached)
            options.useCache = false
            let withoutCache = model.generate(tokenizer: .standard, options: options, generator: &uncached)
            #expect(withCache == withoutCache && withCache.count == 3 * 60, "seed \(seed)")
        }
    }

    @Test("replaceSlice writes in place into an unshared tensor, and copies first when the storage is shared")
    func replaceSlice() {
        var buffer = Tensor.zeros([1, 4, 2], dtype: .float64)
        let view = buffer  // shares the storage: the write must not reach it
        buffer.replaceSlice(axis: 1, start: 1, with: Tensor([1, 2, 3, 4], shape: [1, 2, 2]))
        #expect(buffer.doubles == [0, 0, 1, 2, 3, 4, 0, 0])
        #expect(view.doubles == Array(repeating: 0, count: 8))
        buffer.replaceSlice(axis: 1, start: 3, with: Tensor([5, 6], shape: [1, 1, 2]))
        #expect(buffer.doubles == [0, 0, 1, 2, 3, 4, 5, 6])
    }
}
