// Where a recipe's relative paths point: beside the recipe file, as every trainer reads them.
import Foundation

/// A recipe whose relative paths name files beside the recipe.
public protocol RecipePaths {
    /// The recipe file's folder.
    var baseDirectory: String { get }
}

extension RecipePaths {
    /// `path` as given when absolute, else against the recipe's folder, `..` resolved.
    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).standardized.path
    }
}
