// Reference frames for force-field training and evaluation, from any format SciZoo reads:
// extended XYZ (ASE's and MACE's keys), sGDML MD17 and rMD17 `.npz`, and SciZoo's chunked HDF5
// layout, which is read frame by frame (never whole into memory). Splits come from a seed
// (schnetpack's random split by counts) or from index files (rMD17's csv: one index per line).
import Foundation
import Graphs
import TensorCore
import TensorIO

/// Frames that can be read one at a time.
public protocol FrameSource: AnyObject {
    /// The file the frames come from (for messages).
    var path: String { get }
    var count: Int { get }
    func frame(_ index: Int) throws -> AtomicFrame
}

/// Frames already in memory (extended XYZ, MD17 archives).
public final class FrameList: FrameSource {
    public let path: String
    public let frames: [AtomicFrame]

    public init(path: String, frames: [AtomicFrame]) { (self.path, self.frames) = (path, frames) }

    public var count: Int { frames.count }
    public func frame(_ index: Int) throws -> AtomicFrame { frames[index] }
}

public enum ForceFieldData {
    /// Opens `path` by its extension: `.extxyz`/`.xyz`, `.npz` (MD17, rMD17), `.h5`/`.hdf5` (SciZoo's layout).
    public static func open(_ path: String) throws -> any FrameSource {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "xyz", "extxyz": return FrameList(path: path, frames: try ExtendedXYZ.read(path))
        case "npz": return FrameList(path: path, frames: try MD17Archive.read(path))
        case "h5", "hdf5": return try ForceFieldHDF5.Reader(path: path)
        default:
            throw FileError(file: path, message: "unknown frame format: expected .extxyz or .xyz (extended XYZ), .npz (MD17, rMD17) or .h5 (scizoo mlff-convert)")
        }
    }

    /// "frame 12 (line 133)": where a frame is, for messages.
    static func place(_ frame: AtomicFrame, index: Int) -> String { "frame \(index)" + (frame.line > 0 ? " (line \(frame.line))" : "") }

    /// A frame's reference energy and forces, present and finite. A problem names the file and
    /// the frame (and its line in extended XYZ).
    public static func checkedReference(_ frame: AtomicFrame, index: Int, source: any FrameSource) throws -> (energy: Double, forces: [SIMD3<Double>]) {
        let place = place(frame, index: index)
        guard let energy = frame.energy else { throw FileError(file: source.path, key: place, message: "has no reference energy (energy or REF_energy)") }
        guard let forces = frame.forces else { throw FileError(file: source.path, key: place, message: "has no reference forces (a forces or REF_forces column)") }
        guard energy.isFinite, forces.allSatisfy({ $0.x.isFinite && $0.y.isFinite && $0.z.isFinite }) else {
            throw FileError(file: source.path, key: place, message: "holds a non-finite energy or force")
        }
        return (energy, forces)
    }

    /// The pairs within `cutoff` of a frame; two atoms closer than 1e-6 Å (overlapping) are an
    /// error naming the file and the frame, not a NaN force later.
    public static func pairs(of frame: AtomicFrame, cutoff: Double, maxNeighbours: Int? = nil, index: Int, source: any FrameSource) throws -> NeighbourPairs {
        let pairs: NeighbourPairs
        do {
            pairs = try NeighbourList.build(positions: frame.system.positions, cutoff: cutoff, cell: frame.system.cell, maxNeighbours: maxNeighbours)
        } catch {
            throw FileError(file: source.path, key: place(frame, index: index), message: "\(error)")
        }
        if let k = pairs.distances.firstIndex(where: { $0 < 1e-6 }) {
            throw FileError(file: source.path, key: place(frame, index: index), message: "atoms \(pairs.first[k]) and \(pairs.second[k]) overlap (distance 0)")
        }
        return pairs
    }
}

/// Which frames train, validate and test.
public struct FrameSplit: Sendable, Equatable {
    public var train: [Int], validation: [Int], test: [Int]

    public init(train: [Int], validation: [Int], test: [Int]) { (self.train, self.validation, self.test) = (train, validation, test) }

    /// schnetpack's random split: a seeded permutation of `count` frames, then `train` and
    /// `validation` frames, and the rest (or `test` of them) for testing.
    public static func random(count: Int, train: Int, validation: Int, test: Int?, seed: UInt64, file: String) throws -> FrameSplit {
        let rest = count - train - validation
        guard train > 0, validation >= 0, rest >= (test ?? 0) else {
            throw FileError(file: file, message: "\(count) frames cannot be split into \(train) train, \(validation) validation and \(test.map(String.init) ?? "the rest") test")
        }
        var generator = RandomGenerator(seed: seed)
        let order = generator.permutation(count)
        let tested = Array(order[(train + validation)...].prefix(test ?? rest))
        return FrameSplit(train: Array(order[..<train]), validation: Array(order[train..<(train + validation)]), test: tested)
    }

    /// Indices from a file, one per line (rMD17's `index_train_01.csv`), each below `count`.
    public static func indices(in path: String, count: Int) throws -> [Int] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FileError(file: path, message: "cannot read the index file (\(error.localizedDescription))")
        }
        var result: [Int] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let field = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if field.isEmpty { continue }
            guard let index = Int(field) ?? Double(field).flatMap({ $0 == $0.rounded() ? Int(exactly: $0) : nil }), (0..<count).contains(index) else {
                throw FileError(file: path, line: number + 1, message: "expected a frame index in 0..<\(count), got '\(field)'")
            }
            result.append(index)
        }
        return result
    }
}
