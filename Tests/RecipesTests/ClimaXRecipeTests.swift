import Foundation
import Testing
import TestSupport
import TensorIO
@testable import Recipes

@Suite("The ClimaX recipes shipped under Recipes/climax")
struct ClimaXRecipeTests {
    @Test("every recipe reads: forecasting and downscaling as ClimaXSettings, projection as ClimateBenchSettings")
    func shippedRecipesRead() throws {
        let folder = Fixtures.packageRoot.appendingPathComponent("Recipes/climax").path
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(names.count >= 6)
        for name in names {
            let path = folder + "/" + name
            if try String(contentsOfFile: path, encoding: .utf8).contains("ClimaXClimateBench") {
                let s = try ClimateBenchSettings.load(from: path)
                #expect(s.outVariable == "tas" && s.timeHistory == 10 && s.trainSimulations.count == 6, "\(name)")
            } else {
                let s = try ClimaXSettings.load(from: path)
                #expect(s.net.imageSize[0] % s.net.patchSize == 0, "\(name)")
                if name.hasPrefix("downscale") { #expect(s.coarsenInputs == 4 && s.leadHours == 0) }
                if name.hasPrefix("quarter") { #expect(s.net.imageSize == [720, 1440] && s.leadHours == 6) }
            }
        }
    }

    @Test("a projection recipe whose data.history or out_variables disagrees with the network's is refused, naming both")
    func projectionMismatch() throws {
        let path = Fixtures.packageRoot.appendingPathComponent("Recipes/climax/projection-smoke.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let scratch = try Fixtures.scratchDirectory()
        for (from, to, key) in [("  history: 10", "  history: 5", "history"), ("out_variables: tas", "out_variables: pr90", "out_variables")] {
            #expect(text.contains(from), "\(from)")
            let bad = scratch.appendingPathComponent(key + ".yaml").path
            try text.replacingOccurrences(of: from, with: to).write(toFile: bad, atomically: true, encoding: .utf8)
            let error = #expect(throws: FileError.self) { try ClimateBenchSettings.load(from: bad) }
            #expect(error?.description.contains(key) == true && error?.description.contains("must be equal") == true, "\(String(describing: error))")
        }
    }
}
