// Loaded before pouchdb-server (node -r): express-pouchdb 4.2.0 has no `POST /_dbs_info`
// (CouchDB 2.2 and later: the information of many databases in one request, in place of
// one `GET /{db}` each). The watcher's full sweep asks it which databases changed since
// its last look, 100 at a time; without it, that sweep reads every database's index.
//
// As CouchDB: a body `{"keys": [name, ...]}` (at most 100, CouchDB's default
// `max_db_number_for_dbs_info_req`), answered with one row per key, in their order:
// `{key, info}` (what `GET /{db}` answers) or `{key, error: "not_found"}`. A database is
// opened only if the server lists it: asking never creates one.
//
// `instance_start_time` names the database's instance (CouchDB 3 answers "0"; its seqs
// name their shard files instead): a database deleted and created again, whose integer
// seq and counts may come back to what they were, is then told apart from the old one.
'use strict';

var Module = require('module');
var utils = require('express-pouchdb/lib/utils');
var cleanFilename = require('express-pouchdb/lib/clean-filename');
var getOrCreateDB = require('express-pouchdb/lib/create-or-delete-dbs').getOrCreateDB;

var MAX_KEYS = 100;

var instances = new WeakMap();   // a database's PouchDB object -> its instance's name
var opened = 0;

function instanceOf(db) {
  if (!instances.has(db)) {
    opened += 1;
    instances.set(db, Date.now().toString(36) + '-' + opened);
  }
  return instances.get(db);
}

function infoOf(app, PouchDB, name) {
  return getOrCreateDB(PouchDB, name).then(function (db) {
    return app.dbWrapper.wrap(name, db).then(function () {
      return db.info();
    }).then(function (info) {
      info.instance_start_time = instanceOf(db);
      return info;
    });
  });
}

function mount(app) {
  app.post('/_dbs_info', utils.jsonParser, function (req, res) {
    var keys = req.body && req.body.keys;
    if (!Array.isArray(keys)) {
      return utils.sendJSON(res, 400, {error: 'bad_request',
                                       reason: '`keys` member must exist.'});
    }
    if (keys.length > MAX_KEYS) {
      return utils.sendJSON(res, 400, {error: 'bad_request', reason: 'too_many_keys'});
    }
    req.PouchDB.allDbs().then(function (names) {
      var listed = new Set(names);
      return Promise.all(keys.map(function (key) {
        var name = typeof key === 'string' ? cleanFilename(key) : null;
        if (!name || !listed.has(name)) {
          return {key: key, error: 'not_found'};
        }
        return infoOf(app, req.PouchDB, name).then(function (info) {
          return {key: key, info: info};
        }, function () {
          return {key: key, error: 'not_found'};
        });
      }));
    }).then(function (rows) {
      utils.sendJSON(res, 200, rows);
    }, function (err) {
      utils.sendError(res, err);
    });
  });
}

// express-pouchdb mounts its routes by requiring them when the app is made, in order;
// `routes/all-dbs` comes before `routes/db`, whose `/:db` would take `_dbs_info` for a
// database's name: this route is mounted beside `_all_dbs`.
var path = require.resolve('express-pouchdb/lib/routes/all-dbs');
var allDbs = require(path);
var replaced = new Module(path, module);
replaced.filename = path;
replaced.loaded = true;
replaced.exports = function (app) {
  allDbs(app);
  mount(app);
};
require.cache[path] = replaced;
