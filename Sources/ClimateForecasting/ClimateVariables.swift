// Variable names as ClimaX spells them: long WeatherBench names (`geopotential_500`), the short
// netCDF names users also type (`z_500`, `t2m`), the 48 default variables and log-key postfixes.

public enum ClimateVariables {
    /// ClimaX's `default_vars` (configs/global_forecast_climax.yaml): the order fixes each
    /// variable's patch-embedding row and variable-embedding row in pretrained weights.
    public static let defaultVariables: [String] = {
        var names = ["land_sea_mask", "orography", "lattitude", "2m_temperature", "10m_u_component_of_wind", "10m_v_component_of_wind"]
        for field in ["geopotential", "u_component_of_wind", "v_component_of_wind", "temperature", "relative_humidity", "specific_humidity"] {
            for level in [50, 250, 500, 600, 700, 850, 925] { names.append("\(field)_\(level)") }
        }
        return names
    }()

    /// WeatherBench's pressure levels in hPa (ClimaX's DEFAULT_PRESSURE_LEVELS).
    public static let pressureLevels = [50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 850, 925, 1000]

    /// netCDF short name → long name (ClimaX utils/data_utils.py NAME_TO_VAR); `lat2d` is exposed
    /// under ClimaX's spelling `lattitude`, which pretrained weights depend on.
    public static let longNames: [String: String] = [
        "t2m": "2m_temperature", "u10": "10m_u_component_of_wind", "v10": "10m_v_component_of_wind",
        "msl": "mean_sea_level_pressure", "sp": "surface_pressure", "tisr": "toa_incident_solar_radiation",
        "tp": "total_precipitation", "lsm": "land_sea_mask", "orography": "orography", "lat2d": "lattitude",
        "z": "geopotential", "u": "u_component_of_wind", "v": "v_component_of_wind", "t": "temperature",
        "r": "relative_humidity", "q": "specific_humidity",
    ]

    static let shortNames: [String: String] = Dictionary(uniqueKeysWithValues: longNames.map { ($1, $0) })

    /// The long spelling of `name`: `z_500` → `geopotential_500`, `t2m` → `2m_temperature`;
    /// long names pass through unchanged.
    public static func canonical(_ name: String) -> String {
        if let long = longNames[name] { return long }
        if let split = splitLevel(name), let long = longNames[split.field] { return "\(long)_\(split.level)" }
        return name
    }

    /// The short spelling (`geopotential_500` → `z_500`), or the name itself when it has none.
    public static func short(_ name: String) -> String {
        let long = canonical(name)
        if let short = shortNames[long] { return short }
        if let split = splitLevel(long), let short = shortNames[split.field] { return "\(short)_\(split.level)" }
        return long
    }

    /// `geopotential_500` → (geopotential, 500); nil when the name has no numeric level suffix.
    public static func splitLevel(_ name: String) -> (field: String, level: Int)? {
        guard let underscore = name.lastIndex(of: "_"), let level = Int(name[name.index(after: underscore)...]) else { return nil }
        return (String(name[..<underscore]), level)
    }

    /// The postfix of ClimaX's log keys for a lead time: `<h>_hours` below a day, else `<d>_days`.
    public static func leadPostfix(hours: Int) -> String {
        hours < 24 ? "\(hours)_hours" : "\(hours / 24)_days"
    }

    /// Units of a variable as WeatherBench stores it (for labels).
    public static func units(_ name: String) -> String {
        let long = canonical(name), field = splitLevel(long)?.field ?? long
        switch field {
        case "geopotential": return "m2/s2"
        case "temperature", "2m_temperature": return "K"
        case "u_component_of_wind", "v_component_of_wind", "10m_u_component_of_wind", "10m_v_component_of_wind": return "m/s"
        case "specific_humidity": return "kg/kg"
        case "relative_humidity": return "%"
        case "orography", "total_precipitation": return "m"
        case "lattitude": return "deg"
        case "mean_sea_level_pressure", "surface_pressure": return "Pa"
        case "toa_incident_solar_radiation": return "J/m2"
        default: return ""
        }
    }

    /// Warnings for statistics that look like other units than WeatherBench's: geopotential in
    /// m²/s² has means of 10⁴–10⁵, geopotential height in metres (÷ 9.81) ten times less — a
    /// likely cause of ClimaX issue #59 (z500 three times off on WeatherBench2-derived data).
    public static func unitWarnings(means: [String: Double]) -> [String] {
        means.keys.sorted().compactMap { name in
            guard splitLevel(name)?.field == "geopotential", let mean = means[name], mean > 0, mean < 10_000 else { return nil }
            return "\(name) has a mean of \(Int(mean)); that looks like geopotential height in metres, "
                + "but ClimaX and WeatherBench use geopotential in m²/s² (multiply by 9.80665)"
        }
    }

    /// Whether upstream forces this variable's normalisation mean to 0 (precipitation is
    /// non-negative and mostly zero; ClimaX keeps zero rain at zero).
    static func hasZeroMean(_ name: String) -> Bool { canonical(name) == "total_precipitation" }
}
