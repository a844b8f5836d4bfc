/**
 * The identity net's training settings and their defaults, on their own (no tfjs): `morphable train identity`
 * shows the defaults in its help without loading the training stack (identity-training.ts).
 */

export interface IdentityTrainingSettings {
  /** Random identities rendered, and views of each. */
  identities: number;
  /** Random identities of the second model, where one is given (TrainIdentityNetOptions.otherModel). */
  otherIdentities: number;
  views: number;
  /** Share of the identities held out for evaluation. */
  heldOut: number;
  /** Leading identity coefficients predicted (K) and hidden units. */
  outputs: number;
  hidden: number;
  epochs: number;
  batchSize: number;
  /** Adam learning rate, cosine decay to 5 % of it. */
  learningRate: number;
  /** Weight of the batch-distribution loss against the loopback loss (mm²). */
  distributionWeight: number;
  /** L2 penalty on the MLP's weight matrices (sum of squares × this, against the loopback loss in mm²). */
  weightDecay: number;
  /**
   * Photos (of --data) for skin textures, and as many others for backgrounds; a tenth of each are kept for
   * the held-out identities (identityPhotoSplit).
   */
  photos: number;
  seed: number;
}

export const DEFAULT_IDENTITY_TRAINING: IdentityTrainingSettings = {
  identities: 1000,
  otherIdentities: 1000,
  views: 3,
  heldOut: 0.1,
  outputs: 40,
  hidden: 128,
  epochs: 40,
  batchSize: 128,
  learningRate: 2e-3,
  distributionWeight: 300,
  weightDecay: 0.3,
  photos: 600,
  seed: 16,
};
