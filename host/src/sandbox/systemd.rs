//! The `systemd` capability: systemd's units and manager state, read by the host from the
//! system bus with `zbus`, so a plugin never gets the bus itself (docs/security.md).
//!
//! One fetch serves every plugin that asks within [`FRESH_FOR`] of it (the plugins of one
//! collection cycle), and a fetch has a deadline: it runs on a thread of its own, on a
//! current-thread tokio runtime under `tokio::time::timeout`, and the caller waits for it at
//! most that long. A hung bus (a daemon that owns `org.freedesktop.systemd1` but never
//! answers, node_exporter's most reported stall) so costs the asking plugin one deadline and
//! never blocks another plugin's thread; the answer `timed-out` is shared like any other.

use sonde_sdk::{FsError, SystemdState, SystemdUnit};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

/// The system bus node_exporter and `systemctl` talk to.
pub const DEFAULT_SYSTEM_BUS: &str = "unix:path=/run/dbus/system_bus_socket";

/// How long one fetch (connecting, listing the units and reading their properties) may take.
pub const SYSTEMD_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a fetch's answer is shared: the plugins of one cycle ask within milliseconds of
/// each other; the next cycle (1 s apart at the shortest interval people use) fetches anew.
pub const FRESH_FOR: Duration = Duration::from_millis(500);

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// The system bus and the last fetch's answer.
#[derive(Debug)]
pub struct SystemdBus {
    address: String,
    timeout: Duration,
    /// The last fetch: when it started, and its answer. Held during a fetch, so callers of the
    /// same cycle wait for the one fetch and share it rather than each asking the bus.
    last: Mutex<Option<(Instant, Result<SystemdState, FsError>)>>,
}

impl SystemdBus {
    /// The bus at `address` (a D-Bus address, `unix:path=…`), each fetch limited to `timeout`.
    pub fn new(address: &str, timeout: Duration) -> SystemdBus {
        SystemdBus {
            address: address.to_owned(),
            timeout,
            last: Mutex::new(None),
        }
    }

    /// The bus address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The units and manager state: the last answer when it is younger than [`FRESH_FOR`],
    /// else a new fetch (at most the timeout).
    pub fn units(&self) -> Result<SystemdState, FsError> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, answer)) = last.as_ref()
            && at.elapsed() < FRESH_FOR
        {
            return answer.clone();
        }
        let started = Instant::now();
        let answer = self.fetch();
        *last = Some((started, answer.clone()));
        answer
    }

    /// One fetch on a thread of its own, waited for at most the timeout (and a little for the
    /// thread to report it: the fetch itself stops at the timeout).
    fn fetch(&self) -> Result<SystemdState, FsError> {
        let (tx, rx) = mpsc::channel();
        let address = self.address.clone();
        let timeout = self.timeout;
        let spawned = std::thread::Builder::new()
            .name("sonde-systemd".into())
            .spawn(move || {
                let answer = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(async {
                        match tokio::time::timeout(timeout, fetch(&address)).await {
                            Ok(answer) => answer,
                            Err(_) => Err(FsError::TimedOut),
                        }
                    }),
                    Err(e) => Err(FsError::Other(format!(
                        "cannot start the D-Bus client: {e}"
                    ))),
                };
                let _ = tx.send(answer);
            });
        if let Err(e) = spawned {
            return Err(FsError::Other(format!(
                "cannot start the D-Bus client: {e}"
            )));
        }
        rx.recv_timeout(self.timeout + Duration::from_millis(200))
            .unwrap_or(Err(FsError::TimedOut))
    }
}

/// What a D-Bus failure tells the plugin: a bus that is not there is `not-found` with its
/// address in the message, anything else the bus's own message.
fn bus_error(address: &str, e: zbus::Error) -> FsError {
    match &e {
        zbus::Error::InputOutput(io) if io.kind() == std::io::ErrorKind::NotFound => {
            FsError::Other(format!("no system bus at {address}: {io}"))
        }
        _ => FsError::Other(format!("system bus {address}: {e}")),
    }
}

/// One row of `ListUnits`: name, description, load, active and sub state, followed unit,
/// object path, job id, job type, job path.
type UnitRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

async fn fetch(address: &str) -> Result<SystemdState, FsError> {
    let connection = zbus::connection::Builder::address(address)
        .map_err(|e| bus_error(address, e))?
        .build()
        .await
        .map_err(|e| bus_error(address, e))?;
    let reply = connection
        .call_method(Some(SYSTEMD), MANAGER_PATH, Some(MANAGER), "ListUnits", &())
        .await
        .map_err(|e| bus_error(address, e))?;
    let rows: Vec<UnitRow> = reply
        .body()
        .deserialize()
        .map_err(|e| bus_error(address, e))?;
    let version: String = property(&connection, MANAGER_PATH, MANAGER, "Version")
        .await
        .unwrap_or_default();
    let system_state: String = property(&connection, MANAGER_PATH, MANAGER, "SystemState")
        .await
        .unwrap_or_default();
    // The units' properties are asked all at once (the bus answers them in turn); the order of
    // the list is kept.
    let mut tasks = tokio::task::JoinSet::new();
    for (index, row) in rows.into_iter().enumerate() {
        let connection = connection.clone();
        tasks.spawn(async move { (index, unit(&connection, row).await) });
    }
    let mut units: Vec<(usize, SystemdUnit)> = Vec::with_capacity(tasks.len());
    while let Some(done) = tasks.join_next().await {
        if let Ok(unit) = done {
            units.push(unit);
        }
    }
    units.sort_by_key(|(index, _)| *index);
    Ok(SystemdState {
        version,
        system_state,
        units: units.into_iter().map(|(_, unit)| unit).collect(),
    })
}

/// A unit's row and, when it is loaded, the properties of its type node_exporter reports.
async fn unit(connection: &zbus::Connection, row: UnitRow) -> SystemdUnit {
    let (name, _, load_state, active_state, sub_state, _, path, ..) = row;
    let mut unit = SystemdUnit {
        name,
        load_state,
        active_state,
        sub_state,
        ..SystemdUnit::default()
    };
    if unit.load_state != "loaded" {
        return unit;
    }
    let path = path.as_str();
    let get_u32 =
        |iface: &'static str, name: &'static str| property::<u32>(connection, path, iface, name);
    let get_u64 =
        |iface: &'static str, name: &'static str| property::<u64>(connection, path, iface, name);
    if unit.active_state == "active" {
        unit.active_enter_timestamp_usec =
            get_u64("org.freedesktop.systemd1.Unit", "ActiveEnterTimestamp").await;
    }
    let kind = unit.name.rsplit_once('.').map_or("", |(_, kind)| kind);
    match kind {
        "service" => {
            const SERVICE: &str = "org.freedesktop.systemd1.Service";
            unit.unit_type = property::<String>(connection, path, SERVICE, "Type")
                .await
                .unwrap_or_default();
            unit.restarts = get_u32(SERVICE, "NRestarts").await;
            unit.tasks_current = get_u64(SERVICE, "TasksCurrent").await;
            unit.tasks_max = get_u64(SERVICE, "TasksMax").await;
        }
        "mount" => {
            unit.unit_type =
                property::<String>(connection, path, "org.freedesktop.systemd1.Mount", "Type")
                    .await
                    .unwrap_or_default();
        }
        "socket" => {
            const SOCKET: &str = "org.freedesktop.systemd1.Socket";
            unit.socket_accepted = get_u32(SOCKET, "NAccepted").await;
            unit.socket_connections = get_u32(SOCKET, "NConnections").await;
            unit.socket_refused = get_u32(SOCKET, "NRefused").await;
        }
        "timer" => {
            unit.timer_last_trigger_usec =
                get_u64("org.freedesktop.systemd1.Timer", "LastTriggerUSec").await;
        }
        _ => {}
    }
    unit
}

/// One property (`org.freedesktop.DBus.Properties.Get`), `None` when it cannot be read or has
/// another type.
async fn property<T: TryFrom<OwnedValue>>(
    connection: &zbus::Connection,
    path: &str,
    interface: &str,
    name: &str,
) -> Option<T> {
    let reply = connection
        .call_method(
            Some(SYSTEMD),
            path,
            Some(PROPERTIES),
            "Get",
            &(interface, name),
        )
        .await
        .ok()?;
    let value: OwnedValue = reply.body().deserialize().ok()?;
    T::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_bus_is_one_clear_error_and_is_shared() {
        let dir = tempfile::tempdir().unwrap();
        let address = format!("unix:path={}", dir.path().join("none").display());
        let bus = SystemdBus::new(&address, Duration::from_secs(2));
        let started = Instant::now();
        let first = bus.units().unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        let FsError::Other(message) = &first else {
            panic!("{first:?}");
        };
        assert!(message.contains(&address), "{message}");
        // Asked again within the cycle: the same answer, without a second fetch.
        assert_eq!(bus.units().unwrap_err(), first);
    }

    #[test]
    fn a_listener_that_never_answers_costs_one_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        // Accepts connections and never says a word: the D-Bus handshake waits forever.
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let bus = SystemdBus::new(
            &format!("unix:path={}", socket.display()),
            Duration::from_millis(300),
        );
        let started = Instant::now();
        assert_eq!(bus.units(), Err(FsError::TimedOut));
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        drop(listener);
    }
}
