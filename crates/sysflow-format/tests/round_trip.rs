//! Random records written with every codec and block size, read back equal — by our reader, as bare stream datums,
//! and (record kinds and key fields) by apache-avro as an independent implementation.

use proptest::prelude::*;
use sysflow_format::datum::{decode_datum, encode_datum};
use sysflow_format::writer::{TraceWriter, WriterOptions};
use sysflow_format::*;

fn s() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z0-9/_.=-]{0,24}",
        any::<String>().prop_map(|x| x.chars().take(40).collect()),
    ]
}

fn oid() -> impl Strategy<Value = Oid> {
    (any::<i64>(), any::<i64>()).prop_map(|(create_ts, hpid)| Oid { create_ts, hpid })
}

fn foid() -> impl Strategy<Value = Foid> {
    any::<[u8; 20]>().prop_map(Foid)
}

fn state() -> impl Strategy<Value = ObjectState> {
    (0u32..3).prop_map(|i| ObjectState::from_ordinal(i).unwrap_or_default())
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        (any::<i64>(), s(), s(), s()).prop_map(|(version, exporter, ip, filename)| Record::Header(
            Header {
                version,
                exporter,
                ip,
                filename
            }
        )),
        (
            s(),
            s(),
            s(),
            s(),
            0u32..10,
            any::<bool>(),
            proptest::option::of(s())
        )
            .prop_map(|(id, name, image, imageid, t, privileged, pod_id)| {
                Record::Container(Box::new(Container {
                    id,
                    name,
                    image,
                    imageid,
                    container_type: ContainerType::from_ordinal(t).unwrap_or_default(),
                    privileged,
                    pod_id,
                }))
            }),
        (
            (
                state(),
                oid(),
                proptest::option::of(oid()),
                any::<i64>(),
                s(),
                s()
            ),
            (
                any::<i32>(),
                s(),
                any::<i32>(),
                s(),
                any::<bool>(),
                proptest::option::of(s())
            ),
            (any::<bool>(), s(), proptest::collection::vec(s(), 0..4))
        )
            .prop_map(
                |(
                    (state, oid, poid, ts, exe, exe_args),
                    (uid, user_name, gid, group_name, tty, container_id),
                    (entry, cwd, env),
                )| {
                    Record::Process(Box::new(Process {
                        state,
                        oid,
                        poid,
                        ts,
                        exe,
                        exe_args,
                        uid,
                        user_name,
                        gid,
                        group_name,
                        tty,
                        container_id,
                        entry,
                        cwd,
                        env,
                    }))
                }
            ),
        (
            state(),
            foid(),
            any::<i64>(),
            any::<i32>(),
            s(),
            proptest::option::of(s())
        )
            .prop_map(
                |(state, oid, ts, restype, path, container_id)| Record::File(File {
                    state,
                    oid,
                    ts,
                    restype,
                    path,
                    container_id
                })
            ),
        (
            oid(),
            any::<i64>(),
            any::<i64>(),
            any::<i32>(),
            proptest::collection::vec(s(), 0..3),
            any::<i32>()
        )
            .prop_map(
                |(proc_oid, ts, tid, op_flags, args, ret)| Record::ProcessEvent(ProcessEvent {
                    proc_oid,
                    ts,
                    tid,
                    op_flags,
                    args,
                    ret
                })
            ),
        (
            oid(),
            any::<[i64; 3]>(),
            any::<[i32; 7]>(),
            any::<[i64; 4]>()
        )
            .prop_map(|(proc_oid, l, i, c)| {
                Record::NetworkFlow(NetworkFlow {
                    proc_oid,
                    ts: l[0],
                    tid: l[1],
                    op_flags: i[0],
                    end_ts: l[2],
                    sip: i[1],
                    sport: i[2],
                    dip: i[3],
                    dport: i[4],
                    proto: i[5],
                    fd: i[6],
                    num_r_recv_ops: c[0],
                    num_w_send_ops: c[1],
                    num_r_recv_bytes: c[2],
                    num_w_send_bytes: c[3],
                })
            }),
        (
            oid(),
            any::<[i64; 3]>(),
            any::<[i32; 3]>(),
            foid(),
            any::<[i64; 4]>()
        )
            .prop_map(|(proc_oid, l, i, f, c)| {
                Record::FileFlow(FileFlow {
                    proc_oid,
                    ts: l[0],
                    tid: l[1],
                    op_flags: i[0],
                    open_flags: i[1],
                    end_ts: l[2],
                    file_oid: f,
                    fd: i[2],
                    num_r_recv_ops: c[0],
                    num_w_send_ops: c[1],
                    num_r_recv_bytes: c[2],
                    num_w_send_bytes: c[3],
                })
            }),
        (
            oid(),
            any::<[i64; 2]>(),
            any::<[i32; 2]>(),
            foid(),
            proptest::option::of(foid())
        )
            .prop_map(
                |(proc_oid, l, i, file_oid, new_file_oid)| Record::FileEvent(FileEvent {
                    proc_oid,
                    ts: l[0],
                    tid: l[1],
                    op_flags: i[0],
                    file_oid,
                    ret: i[1],
                    new_file_oid
                })
            ),
        (oid(), any::<[i64; 2]>(), any::<[i32; 7]>()).prop_map(|(proc_oid, l, i)| {
            Record::NetworkEvent(NetworkEvent {
                proc_oid,
                ts: l[0],
                tid: l[1],
                op_flags: i[0],
                sip: i[1],
                sport: i[2],
                dip: i[3],
                dport: i[4],
                proto: i[5],
                ret: i[6],
            })
        }),
        (oid(), any::<[i64; 5]>(), any::<i32>()).prop_map(|(proc_oid, l, op_flags)| {
            Record::ProcessFlow(ProcessFlow {
                proc_oid,
                ts: l[0],
                num_threads_cloned: l[1],
                op_flags,
                end_ts: l[2],
                num_threads_exited: l[3],
                num_clone_errors: l[4],
            })
        }),
        (
            (
                any::<i64>(),
                s(),
                s(),
                s(),
                proptest::collection::vec(any::<i64>(), 0..3)
            ),
            (
                proptest::collection::vec(any::<i64>(), 0..3),
                s(),
                any::<i64>()
            ),
            (
                proptest::collection::vec((s(), s()), 0..3),
                proptest::collection::vec((s(), s()), 0..2)
            ),
            proptest::collection::vec(
                (
                    s(),
                    s(),
                    s(),
                    proptest::collection::vec((any::<[i32; 3]>(), s()), 0..3),
                    proptest::collection::vec(any::<i64>(), 0..2)
                ),
                0..3
            )
        )
            .prop_map(
                |(
                    (ts, id, name, node_name, host_ip),
                    (internal_ip, namespace, restart_count),
                    (labels, selectors),
                    svcs,
                )| {
                    Record::Pod(Box::new(Pod {
                        ts,
                        id,
                        name,
                        node_name,
                        host_ip,
                        internal_ip,
                        namespace,
                        restart_count,
                        labels,
                        selectors,
                        services: svcs
                            .into_iter()
                            .map(|(name, id, namespace, ports, cluster_ip)| Service {
                                name,
                                id,
                                namespace,
                                port_list: ports
                                    .into_iter()
                                    .map(|(p, proto)| Port {
                                        port: p[0],
                                        target_port: p[1],
                                        node_port: p[2],
                                        proto,
                                    })
                                    .collect(),
                                cluster_ip,
                            })
                            .collect(),
                    }))
                }
            ),
        (0u32..10, 0u32..6, any::<i64>(), s()).prop_map(|(k, a, ts, message)| Record::K8sEvent(
            K8sEvent {
                kind: K8sComponent::from_ordinal(k).unwrap_or_default(),
                action: K8sAction::from_ordinal(a).unwrap_or_default(),
                ts,
                message
            }
        )),
    ]
}

fn codec() -> impl Strategy<Value = Codec> {
    prop_oneof![
        Just(Codec::Null),
        Just(Codec::DeflateDefault),
        Just(Codec::Snappy),
        Just(Codec::Zstandard(3))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn files_round_trip(recs in proptest::collection::vec(record(), 0..60), codec in codec(), block in 1usize..4000) {
        let mut w = TraceWriter::new(Vec::new(), WriterOptions { codec, block_bytes: block, sync_marker: None }).unwrap();
        for r in &recs {
            w.write(r).unwrap();
        }
        let bytes = w.finish().unwrap();
        let back: Vec<Record> = TraceReader::new(&bytes[..]).unwrap().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&back, &recs);

        // apache-avro reads the same file: same number of datums, same union branches.
        let reader = apache_avro::Reader::new(&bytes[..]).unwrap();
        let mut kinds = Vec::new();
        for v in reader {
            let v = v.unwrap();
            let apache_avro::types::Value::Record(fields) = v else { panic!("not a record") };
            let apache_avro::types::Value::Union(idx, _) = &fields[0].1 else { panic!("not a union") };
            kinds.push(*idx as usize);
        }
        let ours: Vec<usize> = recs.iter().map(|r| r.kind().union_index()).collect();
        prop_assert_eq!(kinds, ours);
    }

    #[test]
    fn datums_round_trip(rec in record()) {
        let mut buf = Vec::new();
        encode_datum(&rec, &mut buf);
        prop_assert_eq!(decode_datum(&buf).unwrap(), rec);
    }
}

#[test]
fn apache_avro_reads_field_values() {
    let ff = FileFlow {
        proc_oid: Oid {
            create_ts: 7,
            hpid: 42,
        },
        ts: 1_700_000_000_000_000_000,
        tid: 43,
        op_flags: 9600,
        open_flags: 4097,
        end_ts: 1_700_000_000_000_000_999,
        file_oid: Foid::compute("", "/etc/passwd"),
        fd: 3,
        num_r_recv_ops: 2,
        num_w_send_ops: 0,
        num_r_recv_bytes: 4096,
        num_w_send_bytes: 0,
    };
    let mut w = TraceWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    w.write(&Record::FileFlow(ff.clone())).unwrap();
    let bytes = w.finish().unwrap();
    let v = apache_avro::Reader::new(&bytes[..])
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let apache_avro::types::Value::Record(f) = v else {
        panic!()
    };
    let apache_avro::types::Value::Union(6, inner) = &f[0].1 else {
        panic!("branch")
    };
    let apache_avro::types::Value::Record(fields) = &**inner else {
        panic!()
    };
    let get = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("openFlags"), apache_avro::types::Value::Int(4097));
    assert_eq!(get("numRRecvBytes"), apache_avro::types::Value::Long(4096));
    assert_eq!(
        get("fileOID"),
        apache_avro::types::Value::Fixed(20, ff.file_oid.0.to_vec())
    );
}
