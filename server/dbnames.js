// Loaded before pouchdb-server (node -r): express-pouchdb 4.2.0 checks that a request's
// database exists by listing every database (`PouchDB.allDbs()`: all names copied and
// decoded, then a linear search) on every request, so each request costs more the more
// databases the server holds; on 10,000 databases that is most of a request's time.
// CouchDB's cost per request does not grow with the database count. Here the names are
// kept in a set, made from the same listing: a name found in it is served at once; a name
// not in it (a database created since) lists again, as before, and 404s as before when it
// is still not there. A database destroyed empties the set (the next request lists again).
// Nothing else changes: the database is then opened and wrapped exactly as
// express-pouchdb's own `setDBOnReq` does.
'use strict';

var path = require('path');
var utils = require('express-pouchdb/lib/utils');
var cleanFilename = require('express-pouchdb/lib/clean-filename');
var getOrCreateDB = require('express-pouchdb/lib/create-or-delete-dbs').getOrCreateDB;
var mkdirp = require('mkdirp');

var known = new WeakMap();   // PouchDB constructor -> {names: Set | null, gen: number}

function state(PouchDB) {
  var st = known.get(PouchDB);
  if (!st) {
    st = {names: null, gen: 0};
    known.set(PouchDB, st);
    PouchDB.on('destroyed', function () {
      st.names = null;
      st.gen += 1;
    });
  }
  return st;
}

function serve(dbName, dbWrapper, req, next) {
  // express-pouchdb's setDBOnReq, past its existence check
  getOrCreateDB(req.PouchDB, dbName).then(function (db) {
    if (/\//.test(dbName)) {
      var where = db.__opts.prefix ? db.__opts.prefix + dbName : dbName;
      mkdirp.sync(path.resolve(where));
    }
    dbWrapper.wrap(dbName, db).then(function () {
      req.db = db;
      next();
    });
  });
}

utils.setDBOnReq = function (dbName, dbWrapper, req, res, next) {
  dbName = cleanFilename(dbName);
  var st = state(req.PouchDB);
  if (st.names && st.names.has(dbName)) {
    return serve(dbName, dbWrapper, req, next);
  }
  var gen = st.gen;
  req.PouchDB.allDbs(function (err, dbs) {
    if (err) {
      return utils.sendError(res, err);
    }
    var names = new Set(dbs);
    if (st.gen === gen) {
      st.names = names;
    }
    if (!names.has(dbName)) {
      return utils.sendJSON(res, 404, {error: 'not_found', reason: 'no_db_file'});
    }
    serve(dbName, dbWrapper, req, next);
  });
};
