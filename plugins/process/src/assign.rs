//! Which group each process belongs to: the first `process_names` entry that matches it, or,
//! with `children` (process-exporter's `-children`, on by default), the group of its nearest
//! matched ancestor.

use crate::attrs::ProcAttrs;
use crate::batch::{BATCH, read_texts};
use crate::matcher::Matchers;
use crate::scan::Proc;
use sonde_procfs::pid_files::join_cmdline;
use sonde_sdk::Host;
use std::collections::HashMap;

/// The groups found this cycle and each process's group.
#[derive(Debug, Default)]
pub struct Assignment {
    /// The group names, in order of first appearance.
    pub names: Vec<String>,
    /// For each scanned process, the index of its group in `names`.
    pub of_proc: Vec<Option<usize>>,
}

impl Assignment {
    /// Matches every process; reads the command lines (batched) only when a matcher needs them,
    /// and only of processes whose comm some group accepts. A process whose command line cannot
    /// be read (it exited) belongs to no group, as in process-exporter.
    pub fn new(host: &Host, matchers: &Matchers, children: bool, procs: &[Proc]) -> Assignment {
        let candidates: Vec<usize> = (0..procs.len())
            .filter(|&i| matchers.may_match(procs[i].stat.comm))
            .collect();
        let mut assignment = Assignment {
            names: Vec::new(),
            of_proc: vec![None; procs.len()],
        };
        let mut unreadable = vec![false; procs.len()];
        let mut slots = HashMap::<String, usize>::new();
        let mut name = String::new();
        // Only one chunk of command lines is held at a time.
        for chunk in candidates.chunks(BATCH) {
            let mut cmdlines = if matchers.need_cmdline() {
                let paths: Vec<String> = chunk
                    .iter()
                    .map(|&i| format!("{}/cmdline", procs[i].pid))
                    .collect();
                read_texts(host, &paths).into_iter().map(Some).collect()
            } else {
                vec![None; chunk.len()]
            };
            for (&i, cmdline) in chunk.iter().zip(&mut cmdlines) {
                let joined = match cmdline {
                    Some(Ok(text)) => join_cmdline(text).map(|argv0| (text.as_str(), argv0)),
                    Some(Err(_)) => {
                        unreadable[i] = true;
                        continue;
                    }
                    None => None,
                };
                let attrs = ProcAttrs {
                    pid: procs[i].pid,
                    comm: procs[i].stat.comm,
                    cmdline: joined,
                };
                if matchers.name_into(&attrs, &mut name) {
                    assignment.of_proc[i] = Some(match slots.get(name.as_str()) {
                        Some(&slot) => slot,
                        None => {
                            slots.insert(name.clone(), assignment.names.len());
                            assignment.names.push(name.clone());
                            assignment.names.len() - 1
                        }
                    });
                }
            }
        }
        if children {
            assignment.inherit(procs, &unreadable);
        }
        assignment
    }

    /// Gives each unmatched process the group of its nearest matched ancestor. The walk up
    /// stops at a process that is not in the scan or whose command line could not be read.
    fn inherit(&mut self, procs: &[Proc], unreadable: &[bool]) {
        #[derive(Clone, Copy, PartialEq)]
        enum Walk {
            Pending,
            Visiting,
            Done(Option<usize>),
        }
        let index: HashMap<u32, usize> =
            procs.iter().enumerate().map(|(i, p)| (p.pid, i)).collect();
        let mut walk: Vec<Walk> = (0..procs.len())
            .map(|i| match self.of_proc[i] {
                Some(slot) => Walk::Done(Some(slot)),
                None if unreadable[i] => Walk::Done(None),
                None => Walk::Pending,
            })
            .collect();
        let mut chain = Vec::new();
        for start in 0..procs.len() {
            let mut current = start;
            let group = loop {
                match walk[current] {
                    Walk::Done(group) => break group,
                    Walk::Visiting => break None, // a cycle of ppids (a torn read)
                    Walk::Pending => {
                        walk[current] = Walk::Visiting;
                        chain.push(current);
                        match index.get(&procs[current].stat.ppid) {
                            Some(&parent) => current = parent,
                            None => break None,
                        }
                    }
                }
            };
            for i in chain.drain(..) {
                walk[i] = Walk::Done(group);
                self.of_proc[i] = group;
            }
        }
    }
}
