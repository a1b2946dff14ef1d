//! Which province a shared location is in, on the 2025 map (34 provinces):
//! the province of the nearest of 3,321 commune centres
//! (`assets/geo/communes-2025.csv`, see its README). A Voronoi estimate:
//! exact inside a province, possibly the neighbour within a few kilometres
//! of a border; nothing for a point far from every commune (at sea, abroad).

use std::sync::LazyLock;

/// Farther than this from every commune centre: not in Vietnam.
const MAX_KM: f64 = 40.0;

struct Communes {
    provinces: Vec<&'static str>,
    /// (province index, lat, lon)
    centres: Vec<(u16, f64, f64)>,
}

static COMMUNES: LazyLock<Communes> = LazyLock::new(|| {
    let mut provinces: Vec<&'static str> = Vec::new();
    let mut centres = Vec::new();
    for line in include_str!("../../assets/geo/communes-2025.csv")
        .lines()
        .skip(1)
    {
        // "province","commune",lat,lon — names never contain commas.
        let mut parts = line.split(',');
        let (Some(p), Some(_), Some(lat), Some(lon)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Ok(lat), Ok(lon)) = (lat.parse::<f64>(), lon.parse::<f64>()) else {
            continue;
        };
        let p = p.trim_matches('"');
        let index = match provinces.iter().position(|x| *x == p) {
            Some(i) => i,
            None => {
                provinces.push(p);
                provinces.len() - 1
            }
        };
        centres.push((index as u16, lat, lon));
    }
    Communes { provinces, centres }
});

/// Distance in km (equirectangular: exact enough at these distances).
fn km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let x = (lon2 - lon1).to_radians() * ((lat1 + lat2) / 2.0).to_radians().cos();
    let y = (lat2 - lat1).to_radians();
    6371.0 * (x * x + y * y).sqrt()
}

/// The province (2025 name, e.g. "Tỉnh Vĩnh Long") a location is most
/// likely in, or `None` outside Vietnam.
pub fn province_of(lat: f64, lon: f64) -> Option<&'static str> {
    if !(lat.is_finite() && lon.is_finite()) {
        return None;
    }
    let c = &*COMMUNES;
    let (best, d) = c
        .centres
        .iter()
        .map(|&(p, clat, clon)| (p, km(lat, lon, clat, clon)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    (d <= MAX_KM).then(|| c.provinces[best as usize])
}

/// The province a person named ("Vĩnh Long", "tỉnh vĩnh long", "TP Hồ Chí
/// Minh"), by its 2025 name; `None` for anything else, so that free text
/// never stands in for a province on a page.
pub fn province_named(name: &str) -> Option<&'static str> {
    use unicode_normalization::UnicodeNormalization;
    let bare = |s: &str| -> String {
        let s: String = s.nfc().collect::<String>().trim().to_lowercase();
        ["thành phố ", "tỉnh ", "tp. ", "tp "]
            .iter()
            .find_map(|p| s.strip_prefix(p))
            .unwrap_or(&s)
            .trim()
            .to_string()
    };
    let wanted = bare(name);
    COMMUNES
        .provinces
        .iter()
        .copied()
        .find(|p| bare(p) == wanted)
}

/// The provinces, by their 2025 names, in the map's order.
pub fn provinces() -> &'static [&'static str] {
    &COMMUNES.provinces
}

/// How many provinces the map has (34 since July 2025).
pub fn province_count() -> usize {
    COMMUNES.provinces.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_2025_map_has_34_provinces_and_3321_communes() {
        assert_eq!(province_count(), 34);
        assert_eq!(COMMUNES.centres.len(), 3321);
    }

    #[test]
    fn known_places_fall_in_their_provinces() {
        for (lat, lon, province) in [
            (21.0287, 105.8524, "Thành phố Hà Nội"),      // Hồ Hoàn Kiếm
            (10.7769, 106.7009, "Thành phố Hồ Chí Minh"), // Bến Nghé
            (10.0341, 105.7882, "Thành phố Cần Thơ"),     // Ninh Kiều
            (9.9347, 106.3453, "Tỉnh Vĩnh Long"),         // Trà Vinh city, merged in 2025
            (16.4637, 107.5909, "Thành phố Huế"),
            (22.3364, 103.8438, "Tỉnh Lào Cai"),  // Sa Pa
            (10.2899, 103.9840, "Tỉnh An Giang"), // Phú Quốc, an island
        ] {
            assert_eq!(province_of(lat, lon), Some(province), "{lat},{lon}");
        }
    }

    #[test]
    fn provinces_are_known_by_their_names_and_nothing_else_is() {
        assert_eq!(province_named("Vĩnh Long"), Some("Tỉnh Vĩnh Long"));
        assert_eq!(province_named(" tỉnh VĨNH LONG "), Some("Tỉnh Vĩnh Long"));
        assert_eq!(
            province_named("TP Hồ Chí Minh"),
            Some("Thành phố Hồ Chí Minh")
        );
        // Decomposed input (NFD) is the same name.
        assert_eq!(province_named("Ha\u{300} Nội"), Some("Thành phố Hà Nội"));
        for junk in [
            "",
            "Gọi 0900 123 456 để được hoàn tiền",
            "<b>Hà Nội</b>",
            "Bangkok",
        ] {
            assert_eq!(province_named(junk), None, "{junk}");
        }
    }

    #[test]
    fn places_outside_vietnam_have_no_province() {
        assert_eq!(province_of(13.7563, 100.5018), None); // Bangkok
        assert_eq!(province_of(12.0, 112.0), None); // the open sea
        assert_eq!(province_of(f64::NAN, 105.0), None);
    }
}
