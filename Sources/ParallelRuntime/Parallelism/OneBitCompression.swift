// 1-bit compressed all-reduce with error feedback, as DeepSpeed's 1-bit Adam communicates its
// momentum (deepspeed/runtime/comm/nccl.py `compressed_allreduce`): each worker sends the signs of
// (value + its carried error) and one scale; each rank, as the server of one chunk, averages the
// workers' reconstructions, adds its own carried error and sends signs and one scale back.
// 32 signs travel per Int32 word: about 1/32 of a float32 all-reduce's bytes.
import Foundation

public enum OneBitCompression {
    /// A value's error-feedback state on one rank: what compression lost last time, as a worker
    /// (the whole padded vector) and as the server of this rank's chunk.
    public struct ErrorFeedback: Sendable {
        public var worker: [Float]
        public var server: [Float]

        /// For `count` values over `ranks`: padded to a multiple of 32 · ranks.
        public init(count: Int, ranks: Int) {
            let unit = 32 * ranks
            let padded = (count + unit - 1) / unit * unit
            worker = [Float](repeating: 0, count: padded)
            server = [Float](repeating: 0, count: padded / ranks)
        }
    }

    /// The average of `values` over the ranks of `communicator`, compressed to one bit per value
    /// (sign) plus one scale per worker and per server chunk; `feedback` carries what was lost into
    /// the next call, so the errors do not accumulate. Sign 0 counts as +1, as upstream.
    public static func allReduceMean(_ values: [Float], feedback: inout ErrorFeedback, over communicator: any Communicator) throws -> [Float] {
        let ranks = communicator.size, padded = feedback.worker.count, chunk = padded / ranks
        precondition(values.count <= padded && padded % (32 * ranks) == 0, "OneBitCompression: feedback for \(padded) values, got \(values.count)")
        // Worker: compensate, scale by the RMS, keep the sign error.
        var buffer = feedback.worker
        for index in values.indices { buffer[index] += values[index] }
        let workerScale = rms(buffer)
        for index in buffer.indices { feedback.worker[index] = buffer[index] - workerScale * (buffer[index] >= 0 ? 1 : -1) }
        // Phase 1: chunk r's signs to rank r; every worker's scale to every rank.
        let signs = try communicator.allToAll(pack(buffer))
        let scales = try communicator.allGather([workerScale])
        // Server of this rank's chunk: the workers' mean plus the carried server error.
        let words = chunk / 32
        var compensated = feedback.server
        for worker in 0..<ranks {
            let scale = scales[worker] / Float(ranks)
            unpack(signs[(worker * words)..<((worker + 1) * words)]) { index, positive in compensated[index] += positive ? scale : -scale }
        }
        let serverScale = rms(compensated)
        for index in compensated.indices {
            feedback.server[index] = compensated[index] - serverScale * (compensated[index] >= 0 ? 1 : -1)
        }
        // Phase 2: every server's signs and scale to every rank.
        let serverSigns = try communicator.allGather(pack(compensated))
        let serverScales = try communicator.allGather([serverScale])
        var result = [Float](repeating: 0, count: padded)
        for server in 0..<ranks {
            let scale = serverScales[server], base = server * chunk
            unpack(serverSigns[(server * words)..<((server + 1) * words)]) { index, positive in result[base + index] = positive ? scale : -scale }
        }
        return Array(result.prefix(values.count))
    }

    /// Root mean square, accumulated in Double.
    static func rms(_ values: [Float]) -> Float {
        var sum = 0.0
        for value in values { sum += Double(value) * Double(value) }
        return Float((sum / Double(Swift.max(1, values.count))).squareRoot())
    }

    /// Bit j of word i is the sign of element 32·i + j (1: ≥ 0).
    static func pack(_ values: [Float]) -> [Int32] {
        var words = [Int32](repeating: 0, count: values.count / 32)
        for (index, value) in values.enumerated() where value >= 0 { words[index / 32] |= Int32(bitPattern: 1 << UInt32(index % 32)) }
        return words
    }

    static func unpack(_ words: ArraySlice<Int32>, _ body: (Int, Bool) -> Void) {
        for (offset, word) in words.enumerated() {
            let bits = UInt32(bitPattern: word)
            for bit in 0..<32 { body(offset * 32 + bit, bits & (1 << UInt32(bit)) != 0) }
        }
    }
}
