/**
 * Where `morphable model fetch` gets ICT-FaceKit: GitHub's archive of the repository. GitHub does
 * not promise byte-stable archives, so the check pins the content instead: the SHA-256 over the
 * sorted "name sha256" lines of the FaceXModel files the importer reads.
 */
export const ICT_FACEKIT_SOURCE = {
  url: 'https://github.com/ICT-VGL/ICT-FaceKit/archive/refs/heads/master.tar.gz',
  contentDigest: '485c88934af294958821309d08ef919c98f865a389c764e1a938116aadbe5915',
  licence: 'MIT licence, USC Institute for Creative Technologies',
};
