import Foundation
import Testing
import TestSupport
@testable import ClimateForecasting
import TensorCore
import TensorIO

/// Pretrained weights on another grid: position embeddings resized as upstream's
/// `interpolate_pos_embed` (torch bicubic), compared with its output made by
/// Scripts/climax/make_pos_embed_fixture.py.
@Suite("ClimaX position embeddings on another grid")
struct PositionEmbeddingResizeTests {
    static let fixture = Fixtures.packageRoot.appendingPathComponent("Tests/ClimateForecastingTests/Fixtures/climax_pos_embed_interpolation.h5").path

    @Test("bicubic resizing equals upstream's interpolate_pos_embed (4×8 → 16×32 and 16×32 → 8×16, float64, 1e-12)",
          arguments: ["up", "down"])
    func matchesUpstream(direction: String) throws {
        let group = try HDF5File(path: Self.fixture).root.group(direction)
        guard case .ints(let old) = try group.attribute("old"), case .ints(let new) = try group.attribute("new") else {
            Issue.record("the fixture's old/new attributes are not integer pairs")
            return
        }
        let table = try group.dataset("table").readTensor(), expected = try group.dataset("resized").readTensor()
        let ours = PositionEmbeddingResize.bicubic(table, from: (Int(old[0]), Int(old[1])), to: (Int(new[0]), Int(new[1])))
        #expect(ours.shape == expected.shape)
        let error = zip(ours.doubles, expected.doubles).map { abs($0 - $1) }.max()!
        #expect(error <= 1e-12, "largest difference \(error)")
    }

    @Test("the old grid is found from its length with the model's aspect ratio; a length of no such grid is nil")
    func gridFromLength() {
        #expect(PositionEmbeddingResize.grid(tokens: 512, like: (64, 128))! == (16, 32))
        #expect(PositionEmbeddingResize.grid(tokens: 32, like: (16, 32))! == (4, 8))
        #expect(PositionEmbeddingResize.grid(tokens: 30, like: (16, 32)) == nil)
    }

    @Test("weights of a 5.625°-like model load into a 4× finer one: pos_embed resized, every other tensor as stored")
    func loadsAcrossGrids() throws {
        func configuration(_ size: [Int]) -> ClimaXConfiguration {
            ClimaXConfiguration(defaultVariables: ["2m_temperature", "geopotential_500"], imageSize: size, patchSize: 2, embedDim: 16,
                                depth: 1, decoderDepth: 1, numHeads: 2, dropPath: 0, dropRate: 0)
        }
        let coarse = ClimaX(configuration([8, 16]), seed: 1), fine = ClimaX(configuration([32, 64]), seed: 2)
        let path = try Fixtures.scratchDirectory().appendingPathComponent("coarse.safetensors").path
        try ClimaXWeights.save(coarse, to: path)
        let loaded = try ClimaXWeights.load(fine, from: path)
        #expect(loaded.resizedPositions?.from == [4, 8] && loaded.resizedPositions?.to == [16, 32])
        #expect(loaded.summary.contains("from 4×8 to 16×32 patches"))
        let resized = PositionEmbeddingResize.bicubic(coarse.positions.posEmbed.value, from: (4, 8), to: (16, 32))
        #expect(fine.positions.posEmbed.value.doubles == resized.doubles)
        for ((name, a), (_, b)) in zip(coarse.namedParameters(), fine.namedParameters()) where name != "positions.posEmbed" {
            #expect(a.value.doubles == b.value.doubles, "\(name)")
        }
        // A length that is no grid of the model's shape is refused, naming the file.
        let odd = ClimaX(ClimaXConfiguration(defaultVariables: ["2m_temperature", "geopotential_500"], imageSize: [6, 16], patchSize: 2,
                                             embedDim: 16, depth: 1, decoderDepth: 1, numHeads: 2, dropPath: 0, dropRate: 0), seed: 3)
        #expect { try ClimaXWeights.load(odd, from: path) } throws: { error in
            "\(error)".contains(path) && "\(error)".contains("pos_embed has 32 positions")
        }
    }
}
