// What every rank agrees on at start, and who speaks: a job whose ranks read different recipes
// (an edited file on a shared disk, a flag typed on one node) trains nonsense without an error
// upstream; here every rank compares a fingerprint of its configuration first.

#if canImport(Glibc)
import Glibc
#endif

/// A launch that cannot go on: raised on every rank alike (the ranks found it out together).
public struct LaunchError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    public init(_ message: String) { self.message = message }
}

public enum LaunchCheck {
    /// FNV-1a, 64 bits, over the UTF-8 bytes: stable across processes and machines (Swift's
    /// `Hasher` is seeded per process and would differ between ranks).
    public static func fingerprint(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// Every rank of `world` passes its configuration; if any differ, every rank throws the same
    /// `LaunchError`, naming which ranks disagree with rank 0.
    public static func requireSameConfiguration(_ configuration: String, over world: any Communicator, describing what: String) throws {
        let all = try world.allGather([Int64(bitPattern: fingerprint(configuration))])
        let differing = all.indices.filter { all[$0] != all[0] }
        guard differing.isEmpty else {
            func hex(_ value: Int64) -> String { String(UInt64(bitPattern: value), radix: 16) }
            throw LaunchError("ranks \(differing) run a different \(what) than rank 0 (fingerprints \(differing.map { hex(all[$0]) }) "
                              + "vs \(hex(all[0]))); every rank must read the same files and flags")
        }
    }
}

/// Rank-aware logging: rank 0 speaks by default; with `allRanks` every rank does, each line
/// prefixed with its rank.
public struct RankLog: Sendable {
    public let rank: Int
    public let size: Int
    public let allRanks: Bool

    public init(rank: Int = 0, size: Int = 1, allRanks: Bool = false) {
        self.rank = rank
        self.size = size
        self.allRanks = allRanks
    }

    /// Whether this rank writes log lines (and progress lines).
    public var isActive: Bool { allRanks || rank == 0 }

    public func callAsFunction(_ message: String) {
        guard isActive else { return }
        print(size > 1 && allRanks ? "[rank \(rank)/\(size)] \(message)" : message)
        fflush(nil)  // all streams: interleaved rank output stays in whole lines
    }
}
