// swift-tools-version:6.0
//
// SciZoo: scientific models on one shared parallel runtime (see Docs/architecture.md).
// Dependencies point down only, and every target lists each module it imports (Scripts/check-imports):
//   scizoo → Recipes → (domains) → ParallelRuntime → NeuralNetworks/TensorIO/Graphs → TensorCore → Kernels → C libs
import PackageDescription

let package = Package(
    name: "SciZoo",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "scizoo", targets: ["scizoo"]),
        .library(name: "TensorCore", targets: ["TensorCore"]),
        .library(name: "NeuralNetworks", targets: ["NeuralNetworks"]),
        .library(name: "TensorIO", targets: ["TensorIO"]),
        .library(name: "GenomeLM", targets: ["GenomeLM"]),
        .library(name: "ParallelRuntime", targets: ["ParallelRuntime"]),
        .library(name: "ProteinFolding", targets: ["ProteinFolding"]),
        .library(name: "ClimateForecasting", targets: ["ClimateForecasting"]),
        .library(name: "Graphs", targets: ["Graphs"]),
        .library(name: "MolecularDynamics", targets: ["MolecularDynamics"]),
        .library(name: "MolecularGraphs", targets: ["MolecularGraphs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System libraries: a module map and one header of static-inline shims each.
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),
        // gzip-compressed FASTA, the form genomes are distributed in; HDF5 already links zlib.
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),

        // Row primitives with runtime AVX2+FMA dispatch (function-level target attributes).
        .target(name: "CKernels"),
        // Operating-system calls Swift cannot make directly (O_DIRECT, malloc_trim, mremap).
        .target(name: "COSShims"),
        // OpenBLAS's kernel set chosen for the CPU before main (a re-exec when OpenBLAS falls back to generic kernels).
        .target(name: "CBLASSelection", dependencies: ["CBLAS"]),
        .target(name: "Kernels", dependencies: ["CBLAS", "CKernels", "CBLASSelection"]),
        .target(name: "TensorCore", dependencies: ["Kernels", "COSShims"]),
        .target(name: "NeuralNetworks", dependencies: ["TensorCore", "Kernels"]),
        .target(name: "TensorIO", dependencies: ["TensorCore", "CHDF5", "CZlib", "Yams"]),
        // Shared by the molecular domains: graph batches, segment reductions, radial bases,
        // cutoffs, neighbour lists and differentiable edge geometry.
        .target(name: "Graphs", dependencies: ["TensorCore"]),
        // ML force fields and molecular dynamics: systems and units, potentials, integrators.
        .target(name: "MolecularDynamics", dependencies: ["Graphs", "NeuralNetworks", "TensorCore", "TensorIO"]),
        // SFM: molecules from SMILES and MOL/SDF, RDKit's perception rules, OGB's graph features.
        .target(name: "MolecularGraphs", dependencies: ["NeuralNetworks", "ParallelRuntime", "TensorIO", "TensorCore"]),
        .target(name: "ParallelRuntime", dependencies: ["NeuralNetworks", "TensorIO", "TensorCore", "Kernels", "COSShims", "CMPI"]),
        .target(name: "GenomeLM", dependencies: ["ParallelRuntime", "NeuralNetworks", "TensorIO", "TensorCore", "CZlib"]),
        .target(name: "ProteinFolding", dependencies: ["NeuralNetworks", "TensorIO", "TensorCore", "Kernels"]),
        .target(name: "ClimateForecasting", dependencies: ["NeuralNetworks", "ParallelRuntime", "TensorIO", "TensorCore"]),
        .target(name: "Recipes", dependencies: ["GenomeLM", "ClimateForecasting", "ProteinFolding", "MolecularDynamics", "MolecularGraphs", "Graphs", "ParallelRuntime", "NeuralNetworks", "TensorIO", "TensorCore", "Kernels", "Yams"]),
        .executableTarget(
            name: "scizoo",
            dependencies: [
                "Recipes", "GenomeLM", "ProteinFolding", "ClimateForecasting", "MolecularDynamics", "MolecularGraphs", "Graphs", "NeuralNetworks", "TensorIO", "ParallelRuntime", "Kernels",
                "TensorCore", "CBLAS", "COSShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .target(name: "TestSupport", dependencies: ["NeuralNetworks", "TensorCore"]),

        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "CBLAS"]),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "Kernels", "TestSupport"]),
        .testTarget(name: "NeuralNetworksTests", dependencies: ["NeuralNetworks", "TensorCore", "Kernels", "TensorIO", "TestSupport"]),
        .testTarget(name: "TensorIOTests", dependencies: ["TensorIO", "TensorCore", "TestSupport"]),
        .testTarget(name: "GraphsTests", dependencies: ["Graphs", "TensorCore", "TestSupport"],
                    exclude: ["Fixtures"]),  // read from the source tree by path (made by Fixtures/make_ase_neighbour_lists.py)
        .testTarget(name: "MolecularDynamicsTests", dependencies: ["MolecularDynamics", "Graphs", "NeuralNetworks", "TensorCore", "TensorIO", "TestSupport"],
                    exclude: ["Fixtures"]),  // read from the source tree by path (made by Fixtures/make_ase_argon_nve.py)
        .testTarget(name: "MolecularGraphsTests", dependencies: ["MolecularGraphs", "NeuralNetworks", "ParallelRuntime", "TensorCore", "TensorIO", "TestSupport"],
                    exclude: ["Fixtures"]),  // read from the source tree by path (made by Scripts/sfm/make_ogb_featurisation_fixture.py)
        .testTarget(name: "GenomeLMTests", dependencies: ["GenomeLM", "ParallelRuntime", "NeuralNetworks", "TensorIO", "TensorCore", "TestSupport"],
                    exclude: ["Parity"]),  // read from the source tree by path (made by Parity/make_gptneox_parity.py)
        .testTarget(name: "ProteinFoldingTests", dependencies: ["ProteinFolding", "NeuralNetworks", "TensorIO", "TensorCore", "Kernels", "TestSupport"],
                    exclude: ["Fixtures"]),  // read from the source tree by path (made by Scripts/openfold/make_upstream_parity_fixture.py)
        .testTarget(name: "ClimateForecastingTests", dependencies: ["ClimateForecasting", "NeuralNetworks", "ParallelRuntime", "TensorIO", "TensorCore", "TestSupport"],
                    exclude: ["Fixtures"]),  // read from the source tree by path (made by Fixtures/make_metrics_fixture.py)
        .testTarget(name: "RecipesTests", dependencies: ["Recipes", "GenomeLM", "ProteinFolding", "MolecularDynamics", "MolecularGraphs", "NeuralNetworks", "Graphs", "ParallelRuntime", "TensorIO", "TensorCore", "Kernels", "TestSupport"]),
        .testTarget(name: "ParallelRuntimeTests", dependencies: ["ParallelRuntime", "NeuralNetworks", "TensorIO", "TensorCore", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["scizoo", "Kernels", "MolecularGraphs", "ProteinFolding", "TensorIO", "TensorCore", "TestSupport"],
                    exclude: ["Fixtures"]),  // read from the source tree by path (training_golden.json, recorded by TrainingGoldenTests)
    ],
    swiftLanguageModes: [.v6]
)
