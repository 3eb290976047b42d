import Foundation
import Testing
import TestSupport
@testable import ClimateForecasting
import NeuralNetworks
import TensorCore

@Suite("ClimaX metrics against NumPy")
struct MetricsTests {
    struct Fixture: Decodable {
        struct Scores: Decodable { let w_rmse_per_sample: Double, w_rmse_global: Double, acc: Double }
        let shape: [Int]
        let latitudes: [Double]
        let prediction: [Double], truth: [Double], climatology: [Double]
        let variables: [Scores]
        let w_mse: Double
    }

    static func fixture() throws -> Fixture {
        let url = Fixtures.packageRoot.appendingPathComponent("Tests/ClimateForecastingTests/Fixtures/metrics_fixture.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    @Test("per-sample (ClimaX) and global (WeatherBench) RMSE and ACC equal the NumPy values")
    func scoresMatchNumPy() throws {
        let f = try Self.fixture()
        let (b, v, h, w) = (f.shape[0], f.shape[1], f.shape[2], f.shape[3])
        for variable in 0..<v {
            var scores = ClimateScoreAccumulator(latitudes: f.latitudes, width: w)
            let climatology = (0..<(h * w)).map { Float(f.climatology[variable * h * w + $0]) }
            for sample in 0..<b {
                let start = (sample * v + variable) * h * w
                scores.add(forecast: f.prediction[start..<(start + h * w)].map(Float.init)[...],
                           truth: f.truth[start..<(start + h * w)].map(Float.init)[...], climatology: climatology)
            }
            let expected = f.variables[variable]
            #expect(abs(scores.rmse(.perSample) - expected.w_rmse_per_sample) <= 1e-4 * expected.w_rmse_per_sample)
            #expect(abs(scores.rmse(.global) - expected.w_rmse_global) <= 1e-4 * expected.w_rmse_global)
            #expect(abs(scores.acc - expected.acc) <= 1e-4)
            // The two conventions differ on these arrays (the root of a mean ≥ the mean of roots).
            #expect(scores.rmse(.global) > scores.rmse(.perSample))
        }
    }

    @Test("summing accumulators over ranks gives the scores of all samples together")
    func sumsCombine() throws {
        let f = try Self.fixture()
        let (v, h, w) = (f.shape[1], f.shape[2], f.shape[3])
        let climatology = (0..<(h * w)).map { Float(f.climatology[$0]) }
        var all = ClimateScoreAccumulator(latitudes: f.latitudes, width: w), first = all, second = all
        for sample in 0..<f.shape[0] {
            let start = sample * v * h * w
            let forecast = f.prediction[start..<(start + h * w)].map(Float.init)[...], truth = f.truth[start..<(start + h * w)].map(Float.init)[...]
            all.add(forecast: forecast, truth: truth, climatology: climatology)
            if sample == 0 { first.add(forecast: forecast, truth: truth, climatology: climatology) } else {
                second.add(forecast: forecast, truth: truth, climatology: climatology)
            }
        }
        var combined = first
        combined.setSums(zip(first.sums, second.sums).map { $0 + $1 })
        #expect(abs(combined.acc - all.acc) < 1e-12 && abs(combined.rmse(.perSample) - all.rmse(.perSample)) < 1e-9)
    }

    @Test("the latitude-weighted MSE loss equals NumPy's and its gradient passes gradcheck")
    func lossMatchesNumPy() throws {
        let f = try Self.fixture()
        let prediction = Tensor(f.prediction, shape: f.shape), truth = Tensor(f.truth, shape: f.shape)
        let loss = LatitudeWeights.meanSquaredError(prediction, truth, latitudes: f.latitudes).item()
        #expect(abs(loss - f.w_mse) <= 1e-9 * f.w_mse)
        let small = RandomGenerator(seed: 3)
        var generator = small
        let x = generator.normal([2, 1, 4, 3], dtype: .float64), y = generator.normal([2, 1, 4, 3], dtype: .float64)
        let result = gradcheck({ LatitudeWeights.meanSquaredError($0[0], $0[1], latitudes: [-60, -20, 20, 60]) }, inputs: [x, y])
        #expect(result.passed, "\(result)")
    }

    @Test("log keys and lead postfixes follow ClimaX")
    func logKeys() {
        #expect(climateMetricKey(split: "val", metric: "w_rmse", variable: "z_500", leadHours: 72) == "val/w_rmse_geopotential_500_3_days")
        #expect(climateMetricKey(split: "test", metric: "acc", variable: "t2m", leadHours: 120) == "test/acc_2m_temperature_5_days")
        #expect(climateMetricKey(split: "val", metric: "w_rmse", variable: "t_850", leadHours: 6) == "val/w_rmse_temperature_850_6_hours")
        #expect(ClimateVariables.canonical("z_500") == "geopotential_500" && ClimateVariables.short("geopotential_500") == "z_500")
        #expect(ClimateVariables.canonical("lat2d") == "lattitude" && ClimateVariables.canonical("u10") == "10m_u_component_of_wind")
        #expect(ClimateVariables.defaultVariables.count == 48 && ClimateVariables.defaultVariables[2] == "lattitude")
    }

    @Test("LinearWarmupCosineAnnealing follows Lightning Bolts' formula")
    func schedule() {
        let s = LinearWarmupCosineAnnealing(baseRate: 1e-3, warmupSteps: 11, totalSteps: 111, warmupStart: 1e-8, minimum: 1e-8)
        #expect(s.learningRate(at: 0) == 1e-8)
        #expect(abs(s.learningRate(at: 5) - (1e-8 + 5 * (1e-3 - 1e-8) / 10)) < 1e-15)
        #expect(abs(s.learningRate(at: 10) - 1e-3) < 1e-15 && abs(s.learningRate(at: 11) - 1e-3) < 1e-15)
        #expect(abs(s.learningRate(at: 61) - (1e-8 + 0.5 * (1e-3 - 1e-8))) < 1e-12)
        #expect(abs(s.learningRate(at: 111) - 1e-8) < 1e-15)
    }
}

@Suite("ClimaX data sanity")
struct UnitWarningTests {
    @Test("geopotential statistics in metres are flagged (ClimaX issue #59), m²/s² are not")
    func geopotentialUnits() {
        #expect(ClimateVariables.unitWarnings(means: ["geopotential_500": 54_000, "temperature_850": 270]).isEmpty)
        let warnings = ClimateVariables.unitWarnings(means: ["geopotential_500": 5_500])
        #expect(warnings.count == 1 && warnings[0].contains("geopotential_500") && warnings[0].contains("9.80665"))
    }
}
