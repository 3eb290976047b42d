// One float array of a rank's ZeRO partition (stage 3's fp32 parameter shards or its gradient
// shards) on a memory tier: tensor memory, host memory outside it, or a swap file (NVMe tier).
import Foundation
import TensorCore

final class PartitionArray {
    enum Tier { case resident, host, file }
    let count: Int
    let tier: Tier
    private var tensor: Tensor
    private let host: UnsafeMutablePointer<Float>?
    private let file: SwapFile?

    init(count: Int, tier: Tier, path: String? = nil) throws {
        self.count = count
        self.tier = tier
        tensor = tier == .resident ? .zeros([count], dtype: .float32) : .zeros([0])
        if tier == .host {
            host = .allocate(capacity: Swift.max(1, count))
            host!.initialize(repeating: 0, count: Swift.max(1, count))
        } else {
            host = nil
        }
        // Random ranges of any length: buffered I/O (the optimiser's sub-groups use the aligned store).
        file = tier == .file ? try SwapFile(path: path!, bytes: Swift.max(4, 4 * count), direct: false) : nil
    }

    deinit { host?.deallocate() }

    var residentBytes: Int { tier == .resident ? 4 * count : 0 }
    var hostBytes: Int { tier == .host ? 4 * count : 0 }
    var fileBytes: Int { tier == .file ? 4 * count : 0 }

    func read(_ range: Range<Int>) throws -> [Float] {
        switch tier {
        case .resident: return tensor.withElements(as: Float.self) { Array($0[range]) }
        case .host: return Array(UnsafeBufferPointer(start: host! + range.lowerBound, count: range.count))
        case .file:
            var values = [Float](repeating: 0, count: range.count)
            if !range.isEmpty {
                try values.withUnsafeMutableBytes { try file!.read(into: $0.baseAddress!, bytes: 4 * range.count, offset: 4 * range.lowerBound) }
            }
            return values
        }
    }

    func write(_ range: Range<Int>, _ values: [Float]) throws {
        precondition(values.count == range.count, "PartitionArray.write: \(values.count) values for \(range)")
        switch tier {
        case .resident: tensor.update(as: Float.self) { buffer in for (k, value) in values.enumerated() { buffer[range.lowerBound + k] = value } }
        case .host: for (k, value) in values.enumerated() { host![range.lowerBound + k] = value }
        case .file:
            if !range.isEmpty {
                try values.withUnsafeBytes { try file!.write(from: $0.baseAddress!, bytes: 4 * range.count, offset: 4 * range.lowerBound) }
            }
        }
    }

    /// Adds `values` element-wise (gradient accumulation over micro-batches).
    func add(_ range: Range<Int>, _ values: [Float]) throws {
        let current = try read(range)
        try write(range, zip(current, values).map { $0 + $1 })
    }

    func zero() throws {
        var start = 0
        while start < count {
            let end = Swift.min(count, start + (1 << 20))
            try write(start..<end, [Float](repeating: 0, count: end - start))
            start = end
        }
    }
}
