//! Layouts: the ordered series names a row's packed values belong to, stored once each, and the
//! packing itself (little-endian f32; NaN where a series has no value in that row).

use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::sync::Arc;

/// Layout ids by their names and back, cached for one connection.
#[derive(Default)]
pub struct Layouts {
    ids: HashMap<Arc<[String]>, i64>,
    names: HashMap<i64, Arc<[String]>>,
    /// The layout of the last row written: ticks keep their layout until a device comes or goes.
    last: Option<(Arc<[String]>, i64)>,
}

impl Layouts {
    /// The id of the names of these values; the last one is reused without copying any name.
    pub fn id_of_values(
        &mut self,
        connection: &Connection,
        values: &[(String, f64)],
    ) -> rusqlite::Result<i64> {
        if let Some((names, id)) = &self.last
            && names.len() == values.len()
            && names.iter().zip(values).all(|(n, (v, _))| n == v)
        {
            return Ok(*id);
        }
        let names: Vec<String> = values.iter().map(|(n, _)| n.clone()).collect();
        let id = self.id_of(connection, &names)?;
        self.last = self.names.get(&id).map(|names| (names.clone(), id));
        Ok(id)
    }

    /// The id of this list of names, stored now if it is new.
    pub fn id_of(&mut self, connection: &Connection, names: &[String]) -> rusqlite::Result<i64> {
        if let Some(id) = self.ids.get(names) {
            return Ok(*id);
        }
        let joined = names.join("\n");
        let existing: Option<i64> = connection
            .query_row(
                "SELECT id FROM layouts WHERE names = ?1",
                params![joined],
                |row| row.get(0),
            )
            .optional()?;
        let id = match existing {
            Some(id) => id,
            None => {
                connection.execute("INSERT INTO layouts (names) VALUES (?1)", params![joined])?;
                connection.last_insert_rowid()
            }
        };
        let names: Arc<[String]> = names.into();
        self.ids.insert(names.clone(), id);
        self.names.insert(id, names);
        Ok(id)
    }

    /// The names of a layout id.
    pub fn names_of(
        &mut self,
        connection: &Connection,
        id: i64,
    ) -> rusqlite::Result<Arc<[String]>> {
        if let Some(names) = self.names.get(&id) {
            return Ok(names.clone());
        }
        let joined: String = connection.query_row(
            "SELECT names FROM layouts WHERE id = ?1",
            params![id],
            |row| row.get(0),
        )?;
        let names: Arc<[String]> = joined
            .split('\n')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        self.ids.insert(names.clone(), id);
        self.names.insert(id, names.clone());
        Ok(names)
    }
}

pub fn pack(values: impl IntoIterator<Item = f64>) -> Vec<u8> {
    values
        .into_iter()
        .flat_map(|v| (v as f32).to_le_bytes())
        .collect()
}

/// The value at `index` of a packed row, if the row is that long.
pub fn value_at(blob: &[u8], index: usize) -> Option<f64> {
    let bytes = blob.get(index * 4..index * 4 + 4)?;
    Some(f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as f64)
}

pub fn unpack(blob: &[u8]) -> impl Iterator<Item = f64> + '_ {
    blob.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_stored_once_and_read_back() {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE layouts (id INTEGER PRIMARY KEY, names TEXT NOT NULL UNIQUE)",
            )
            .unwrap();
        let names = vec!["cpu.usage".to_owned(), "memory.ram".to_owned()];
        let mut layouts = Layouts::default();
        let id = layouts.id_of(&connection, &names).unwrap();
        assert_eq!(layouts.id_of(&connection, &names).unwrap(), id);
        let mut fresh = Layouts::default();
        assert_eq!(
            fresh.id_of(&connection, &names).unwrap(),
            id,
            "found, not stored again"
        );
        assert_eq!(
            &*Layouts::default().names_of(&connection, id).unwrap(),
            &names[..]
        );
        let packed = pack([1.5, f64::NAN, 3.0]);
        let back: Vec<f64> = unpack(&packed).collect();
        assert_eq!(back[0], 1.5);
        assert!(back[1].is_nan());
        assert_eq!(back.len(), 3);
    }
}
