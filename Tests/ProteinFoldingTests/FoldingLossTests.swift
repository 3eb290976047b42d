import Foundation
import Kernels
import Testing
import TestSupport
@testable import ProteinFolding
import TensorCore

@Suite("OpenFold training losses and the smoke fine-tune")
struct FoldingLossTests {
    static let fixture = Fixtures.shared("openfold/2q2k_A")
    static let cif = Fixtures.shared("openfold/2q2k_A/ground_truth/2q2k.cif").path

    static func target() throws -> (FastaRecord, FoldingTarget) {
        let query = try AlignmentParsers.query(fastaAt: fixture.appendingPathComponent("2q2k_A.fasta").path)
        return (query, try FoldingTarget(chain: try ProteinStructure.read(cif).chain("A"), sequence: query.sequence, file: cif))
    }

    @Test("FAPE of the true structure, moved by any rigid motion, against itself is the floor √ε/10; a 1 Å shift of one atom raises it")
    func fapeInvariance() throws {
        let (_, target) = try Self.target()
        let frames = target.groupFrames().map { $0[0] }, points = (0..<target.residues).map { target.atom($0, "CA") }
        // The prediction: the truth under a rotation about (1, 2, 3) by 0.7 rad and a translation.
        let axis = SIMD3<Double>(1, 2, 3) / 14.0.squareRoot(), angle = 0.7
        let (c, s) = (cos(angle), sin(angle))
        func rotate(_ v: SIMD3<Double>) -> SIMD3<Double> {
            v * c + SIMD3(axis.y * v.z - axis.z * v.y, axis.z * v.x - axis.x * v.z, axis.x * v.y - axis.y * v.x) * s + axis * ((axis * v).sum() * (1 - c))
        }
        let shift = SIMD3<Double>(5, -7, 11)
        func moved(_ shiftedAtom: Int?) -> Tensor {
            FoldingLosses.fape(predictedFrames: Self.rigid(frames.map { f in f.map { Self.rotated($0, rotate, shift) } }),
                               trueFrames: frames,
                               predictedPoints: Tensor(points.enumerated().flatMap { i, p -> [Double] in
                                   let q = rotate((p ?? .zero) + (i == shiftedAtom ? SIMD3(1, 0, 0) : .zero)) + shift
                                   return [q.x, q.y, q.z]
                               }, shape: [1, points.count, 3]),
                               truePoints: points)
        }
        let floor = 1e-4.squareRoot() / 10
        #expect(abs(moved(nil).doubles[0] - floor) < 1e-9)
        #expect(moved(30).doubles[0] > floor + 1e-3)
    }

    static func rotated(_ frame: RigidTransform, _ rotate: (SIMD3<Double>) -> SIMD3<Double>, _ shift: SIMD3<Double>) -> RigidTransform {
        let r = frame.rotation
        let columns = (0..<3).map { rotate(SIMD3(r[$0], r[3 + $0], r[6 + $0])) }
        return RigidTransform(rotation: [columns[0].x, columns[1].x, columns[2].x, columns[0].y, columns[1].y, columns[2].y,
                                         columns[0].z, columns[1].z, columns[2].z], translation: rotate(frame.translation) + shift)
    }

    static func rigid(_ frames: [RigidTransform?]) -> Rigid {
        let all = frames.map { $0 ?? .identity }
        return Rigid(rotation: Tensor(all.flatMap(\.rotation), shape: [1, all.count, 3, 3]),
                     translation: Tensor(all.flatMap { [$0.translation.x, $0.translation.y, $0.translation.z] }, shape: [1, all.count, 3]))
    }

    @Test("the true χ angles are defined and finite wherever a side chain is resolved")
    func chiOfTruth() throws {
        let (_, target) = try Self.target()
        let chis = target.chiAngles()
        #expect(chis.flatMap { $0 }.compactMap { $0 }.count > 30)
        #expect(chis.allSatisfy { $0.allSatisfy { ($0 ?? 0).isFinite } })
    }
}
